//! A scripted driver for the autoscaler core (in the spirit of quinn-proto's test pair): it
//! executes the core's driver calls with scripted latencies and outcomes against an in-memory
//! machine store, and advances virtual time to the next completion or core timeout.
//!
//! The store lists in insertion order, like GitLab Runner's fake test driver (spec §5.4).
//! Outcomes are decided when a completion is delivered, from the store at that instant.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use simrun::autoscaler::{
    AcquireError, Acquired, Action, Core, CoreOptions, DrainEvent, DrainEventKind, Event,
    EventKind, Input, MachineState, RequestId, ShutdownStatus, UseError, UsedMachine,
};
use simrun::cloud::{
    CallId, CallKind, Completion, DriverCall, DriverError, DriverErrorKind, DriverState,
    StoreListing,
};
use simrun::config::ShutdownDrain;
use simrun::config::{IdleSettings, MachineConfig, RunnerConfig, Secret};
use simrun::time::{Calendar, SimDuration, SimTime};

/// Latencies (ms) and outcomes of the scripted driver.
#[derive(Clone, Debug)]
pub struct Script {
    pub create_ms: u64,
    pub stop_ms: u64,
    pub rm_ms: u64,
    pub config_ms: u64,
    pub url_ms: u64,
    pub inspect_ms: u64,
    /// Outcomes of the next creates, in call order; afterwards `create_fails` decides.
    pub create_results: Vec<bool>,
    pub create_fails: bool,
    /// A failed create leaves the machine directory (config.json saved before the driver ran,
    /// cloud-faults §1.4).
    pub failed_create_leaves_dir: bool,
    /// Machines whose `config` fails.
    pub unreachable: BTreeSet<String>,
    /// Every `config` fails for names containing one of these.
    pub unreachable_substr: Vec<String>,
    pub credentials_fail: bool,
    pub rm_fails: bool,
    pub rm_f_fails: bool,
    /// `rm -f` latency when set (else `rm_ms`).
    pub rm_f_ms: Option<u64>,
    /// Outcomes of the next `rm -f` calls, in call order; afterwards `rm_f_fails` decides.
    pub rm_f_results: Vec<bool>,
    /// Machines whose Exist is false although the directory stays listed (§0 M9).
    pub exists_false: BTreeSet<String>,
    /// Commands that never complete (`create`, `stop`, `rm -y`, `config`, …).
    pub hang: BTreeSet<&'static str>,
    /// Driver state returned by creates.
    pub state: Option<DriverState>,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            create_ms: 60_000,
            stop_ms: 5_000,
            rm_ms: 10_000,
            config_ms: 500,
            url_ms: 300,
            inspect_ms: 100,
            create_results: Vec::new(),
            create_fails: false,
            failed_create_leaves_dir: false,
            unreachable: BTreeSet::new(),
            unreachable_substr: Vec::new(),
            credentials_fail: false,
            rm_fails: false,
            rm_f_fails: false,
            rm_f_ms: None,
            rm_f_results: Vec::new(),
            exists_false: BTreeSet::new(),
            hang: BTreeSet::new(),
            state: None,
        }
    }
}

#[derive(Clone, Debug)]
struct InFlight {
    call: DriverCall,
    create_ok: bool,
    rm_f_ok: bool,
}

/// The harness: a core, a store, the scripted driver, and what came out.
pub struct Harness {
    pub core: Core,
    pub now: SimTime,
    pub store: StoreListing,
    pub script: Script,
    due: BTreeMap<(SimTime, u64), CallId>,
    inflight: BTreeMap<CallId, InFlight>,
    seq: u64,
    next_req: u64,
    /// Every driver call with the time it started.
    pub calls: Vec<(SimTime, DriverCall)>,
    pub killed: Vec<CallId>,
    pub acquires: BTreeMap<RequestId, (SimTime, Result<Acquired, AcquireError>)>,
    pub uses: BTreeMap<RequestId, (SimTime, Result<UsedMachine, UseError>)>,
    pub events: Vec<Event>,
    pub creates_in_driver: i64,
    pub peak_creates_in_driver: i64,
    pub rm_f_in_driver: i64,
    pub peak_rm_f_in_driver: i64,
    /// The shutdown drain's log (spec §4.3).
    pub drain_events: Vec<DrainEvent>,
}

/// Calendar of the tests: 2026-03-02T08:00:00Z, UTC.
pub fn calendar() -> Calendar {
    let start = "2026-03-02T08:00:00Z".parse().expect("valid timestamp");
    Calendar::new(start, jiff::tz::TimeZone::UTC)
}

/// A `[runners.machine]` with template `name`, IdleCount `ic`, IdleTime `it` seconds.
pub fn machine(name: &str, ic: i64, it: i64) -> MachineConfig {
    MachineConfig {
        machine_name: name.to_string(),
        machine_driver: "fake".to_string(),
        idle: IdleSettings {
            idle_count: ic,
            idle_time: it,
            ..IdleSettings::default()
        },
        ..MachineConfig::default()
    }
}

/// A docker+machine runner `id` with token `token` (empty → template = MachineName).
pub fn runner(id: &str, token: &str, limit: i64, machine: MachineConfig) -> RunnerConfig {
    RunnerConfig {
        index: 0,
        id: id.to_string(),
        name: Some(id.to_string()),
        url: "https://gitlab.example.com".to_string(),
        token: Secret::new(token),
        executor: "docker+machine".to_string(),
        limit,
        request_concurrency: 1,
        strict_check_interval: false,
        machine: Some(machine),
    }
}

pub const R: &str = "r";

impl Harness {
    pub fn new(runners: Vec<RunnerConfig>) -> Self {
        Harness::with_seed(runners, 42)
    }

    pub fn with_seed(runners: Vec<RunnerConfig>, seed: u64) -> Self {
        let opts = CoreOptions {
            seed,
            ..CoreOptions::default()
        };
        Harness {
            core: Core::new(calendar(), opts, runners),
            now: SimTime::ZERO,
            store: StoreListing::empty(),
            script: Script::default(),
            due: BTreeMap::new(),
            inflight: BTreeMap::new(),
            seq: 0,
            next_req: 0,
            calls: Vec::new(),
            killed: Vec::new(),
            acquires: BTreeMap::new(),
            uses: BTreeMap::new(),
            events: Vec::new(),
            creates_in_driver: 0,
            peak_creates_in_driver: 0,
            rm_f_in_driver: 0,
            peak_rm_f_in_driver: 0,
            drain_events: Vec::new(),
        }
    }

    /// One runner `R` with an empty token and `machine`.
    pub fn single(limit: i64, machine: MachineConfig) -> Self {
        Harness::new(vec![runner(R, "", limit, machine)])
    }

    pub fn set_runner(&mut self, r: RunnerConfig) {
        self.core.set_runner(r);
    }

    fn latency(&self, kind: &CallKind) -> u64 {
        match kind {
            CallKind::Create { .. } => self.script.create_ms,
            CallKind::Stop => self.script.stop_ms,
            CallKind::Remove => self.script.rm_ms,
            CallKind::ForceRemove => self.script.rm_f_ms.unwrap_or(self.script.rm_ms),
            CallKind::CanConnect => self.script.config_ms,
            CallKind::Credentials => self.script.url_ms,
            CallKind::Exists => self.script.inspect_ms,
        }
    }

    /// Executes everything the core asked for.
    pub fn drain(&mut self) {
        while let Some(a) = self.core.poll_action() {
            match a {
                Action::Call(call) => {
                    self.calls.push((self.now, call.clone()));
                    let mut create_ok = true;
                    if let CallKind::Create { .. } = call.kind {
                        create_ok = if self.script.create_results.is_empty() {
                            !self.script.create_fails
                        } else {
                            self.script.create_results.remove(0)
                        };
                        self.creates_in_driver += 1;
                        self.peak_creates_in_driver =
                            self.peak_creates_in_driver.max(self.creates_in_driver);
                    }
                    let mut rm_f_ok = true;
                    if let CallKind::ForceRemove = call.kind {
                        rm_f_ok = if self.script.rm_f_results.is_empty() {
                            !self.script.rm_f_fails
                        } else {
                            self.script.rm_f_results.remove(0)
                        };
                        self.rm_f_in_driver += 1;
                        self.peak_rm_f_in_driver =
                            self.peak_rm_f_in_driver.max(self.rm_f_in_driver);
                    }
                    if !self.script.hang.contains(call.kind.command()) {
                        self.seq += 1;
                        let at = self.now + SimDuration(self.latency(&call.kind));
                        self.due.insert((at, self.seq), call.id);
                    }
                    self.inflight.insert(
                        call.id,
                        InFlight {
                            call,
                            create_ok,
                            rm_f_ok,
                        },
                    );
                }
                Action::Kill(id) => {
                    self.killed.push(id);
                    self.due.retain(|_, c| *c != id);
                    if let Some(f) = self.inflight.remove(&id) {
                        match f.call.kind {
                            CallKind::Create { .. } => self.creates_in_driver -= 1,
                            CallKind::ForceRemove => self.rm_f_in_driver -= 1,
                            _ => {}
                        }
                    }
                }
                Action::AcquireDone {
                    request, result, ..
                } => {
                    self.acquires.insert(request, (self.now, result));
                }
                Action::UseDone {
                    request, result, ..
                } => {
                    self.uses.insert(request, (self.now, result));
                }
            }
        }
        while let Some(e) = self.core.poll_event() {
            self.events.push(e);
        }
        while let Some(e) = self.core.poll_drain_event() {
            self.drain_events.push(e);
        }
    }

    fn outcome(&mut self, f: &InFlight) -> Completion {
        let name = f.call.machine.clone();
        let err = |m: &str| Err(DriverError::new(DriverErrorKind::Other, m));
        let listed = self.store.contains(&name);
        let mut state = None;
        let result = match &f.call.kind {
            CallKind::Create { .. } => {
                self.creates_in_driver -= 1;
                state = self.script.state.clone();
                if f.create_ok {
                    if !listed {
                        self.store.push(name.clone());
                    }
                    Ok(())
                } else {
                    if self.script.failed_create_leaves_dir && !listed {
                        self.store.push(name.clone());
                    }
                    Err(DriverError::new(
                        DriverErrorKind::Quota,
                        "Error creating machine: quota exceeded",
                    ))
                }
            }
            CallKind::Stop => Ok(()),
            CallKind::Remove => {
                if self.script.rm_fails {
                    err("rm failed")
                } else {
                    self.store.remove(&name);
                    Ok(())
                }
            }
            CallKind::ForceRemove => {
                self.rm_f_in_driver -= 1;
                if !f.rm_f_ok {
                    err("rm -f failed")
                } else {
                    self.store.remove(&name);
                    Ok(())
                }
            }
            CallKind::CanConnect => {
                let bad = self.script.unreachable.contains(&name)
                    || self
                        .script
                        .unreachable_substr
                        .iter()
                        .any(|s| name.contains(s.as_str()));
                if listed && !bad {
                    Ok(())
                } else {
                    err("Error running connection boilerplate: Host is not running")
                }
            }
            CallKind::Credentials => {
                if self.script.credentials_fail {
                    err("credentials failed")
                } else {
                    Ok(())
                }
            }
            CallKind::Exists => {
                if listed && !self.script.exists_false.contains(&name) {
                    Ok(())
                } else {
                    Err(DriverError::new(
                        DriverErrorKind::NotFound,
                        "does not exist",
                    ))
                }
            }
        };
        Completion {
            id: f.call.id,
            result,
            state,
        }
    }

    /// The next instant something happens, if any.
    pub fn next_event(&self) -> Option<SimTime> {
        let a = self.due.keys().next().map(|k| k.0);
        let b = self.core.poll_timeout();
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Processes the single next event (a completion first on ties). False if none.
    pub fn step(&mut self) -> bool {
        self.drain();
        let Some(t) = self.next_event() else {
            return false;
        };
        self.now = self.now.max(t);
        let first_due = self.due.keys().next().copied();
        match first_due {
            Some(k) if k.0 <= t => {
                if let Some(id) = self.due.remove(&k)
                    && let Some(f) = self.inflight.remove(&id)
                {
                    let c = self.outcome(&f);
                    let store = std::mem::take(&mut self.store);
                    self.core.handle(self.now, Input::DriverDone(c), &store);
                    self.store = store;
                }
            }
            _ => {
                let store = std::mem::take(&mut self.store);
                self.core.handle_timeout(self.now, &store);
                self.store = store;
            }
        }
        self.drain();
        true
    }

    /// Runs every event up to and including `t`, then sets the clock to `t`.
    pub fn run_until(&mut self, t: SimTime) {
        self.drain();
        while let Some(n) = self.next_event() {
            if n > t {
                break;
            }
            self.step();
        }
        self.now = self.now.max(t);
    }

    /// Runs for `ms` milliseconds.
    pub fn advance(&mut self, ms: u64) {
        let t = self.now + SimDuration(ms);
        self.run_until(t);
    }

    /// Runs until nothing is pending or `cap_ms` passed.
    pub fn settle(&mut self, cap_ms: u64) {
        let cap = self.now + SimDuration(cap_ms);
        self.run_until(cap);
    }

    fn req(&mut self) -> RequestId {
        self.next_req += 1;
        RequestId(self.next_req)
    }

    pub fn input(&mut self, input: Input) {
        let store = std::mem::take(&mut self.store);
        self.core.handle(self.now, input, &store);
        self.store = store;
        self.drain();
    }

    pub fn acquire(&mut self, runner: &str) -> RequestId {
        let request = self.req();
        self.input(Input::Acquire {
            request,
            runner: runner.to_string(),
        });
        request
    }

    /// Acquire and run until its reply (at most 2 h of virtual time).
    pub fn acquire_now(&mut self, runner: &str) -> Result<Acquired, AcquireError> {
        let r = self.acquire(runner);
        let cap = self.now + SimDuration::from_mins(120);
        while !self.acquires.contains_key(&r) && self.now <= cap && self.step() {}
        self.acquires
            .get(&r)
            .map(|x| x.1.clone())
            .expect("acquire answered")
    }

    pub fn use_machine(&mut self, runner: &str, acquired: Option<&str>) -> RequestId {
        let request = self.req();
        self.input(Input::Use {
            request,
            runner: runner.to_string(),
            acquired: acquired.map(str::to_string),
        });
        request
    }

    /// Use and run until its reply (at most 4 h of virtual time).
    pub fn use_now(
        &mut self,
        runner: &str,
        acquired: Option<&str>,
    ) -> Result<UsedMachine, UseError> {
        let r = self.use_machine(runner, acquired);
        let cap = self.now + SimDuration::from_mins(240);
        while !self.uses.contains_key(&r) && self.now <= cap && self.step() {}
        self.uses
            .get(&r)
            .map(|x| x.1.clone())
            .expect("use answered")
    }

    pub fn release(&mut self, runner: &str, machine: &str) {
        self.input(Input::Release {
            runner: runner.to_string(),
            machine: machine.to_string(),
        });
    }

    pub fn count_state(&self, s: MachineState) -> usize {
        self.core.records().filter(|r| r.state == s).count()
    }

    pub fn non_removing(&self) -> usize {
        self.core
            .records()
            .filter(|r| r.state != MachineState::Removing)
            .count()
    }

    pub fn calls_of(&self, command: &str) -> Vec<&DriverCall> {
        self.calls
            .iter()
            .filter(|(_, c)| c.kind.command() == command)
            .map(|(_, c)| c)
            .collect()
    }

    pub fn events_where(&self, f: impl Fn(&EventKind) -> bool) -> Vec<&Event> {
        self.events.iter().filter(|e| f(&e.kind)).collect()
    }

    pub fn removal_reasons(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::RemovalRequested { reason } => Some(reason.clone()),
                _ => None,
            })
            .collect()
    }

    /// Puts a machine directory into the store (a machine "found on disk").
    pub fn disk(&mut self, name: &str) {
        self.store.push(name);
    }
}

/// `[machine.shutdown_drain]` with `enabled = true` and the raw values given (retry_backoff in
/// ms, converted to the config's nanoseconds).
pub fn drain_cfg(concurrency: i64, max_retries: i64, retry_backoff_ms: i64) -> ShutdownDrain {
    ShutdownDrain {
        enabled: true,
        concurrency,
        max_retries,
        retry_backoff_ns: retry_backoff_ms * 1_000_000,
    }
}

impl Harness {
    /// Enters Shutdown now with `drain` and a budget of `budget_ms`.
    pub fn shutdown(&mut self, drain: Option<ShutdownDrain>, budget_ms: u64) {
        self.input(Input::Shutdown {
            drain,
            budget: SimDuration(budget_ms),
        });
    }

    /// Runs until Shutdown returned (at most `cap_ms` of virtual time); its summary.
    pub fn run_shutdown(&mut self, cap_ms: u64) -> Option<ShutdownStatus> {
        let cap = self.now + SimDuration(cap_ms);
        while !matches!(
            self.core.shutdown_status(),
            Some(ShutdownStatus::Returned { .. })
        ) && self.now <= cap
            && self.step()
        {}
        self.core.shutdown_status()
    }

    pub fn drain_events_where(&self, f: impl Fn(&DrainEventKind) -> bool) -> Vec<&DrainEvent> {
        self.drain_events.iter().filter(|e| f(&e.kind)).collect()
    }

    /// Makes Idle records for `names` (machines found on disk, adopted by one Acquire with
    /// IdleCount 0; the one find-free acquired is released again).
    pub fn adopt_idle(&mut self, runner: &str, names: &[&str]) {
        for n in names {
            self.disk(n);
        }
        if let Ok(Acquired::Machine(m)) = self.acquire_now(runner) {
            self.release(runner, &m);
        }
    }
}
