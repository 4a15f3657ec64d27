//! The simulated world: GitLab's job queue, the runner manager ([`crate::manager`]), the
//! autoscaler core ([`crate::autoscaler`]) and the fake cloud ([`crate::fake_cloud::driver`]),
//! driven by the event engine in virtual time. This is the simulator's driver of the sans-IO
//! core and manager (DESIGN.md principle 1); live mode will be the other.
//!
//! The world also plays the docker executor's image pull after a successful Use: an active
//! `image_pull` fault makes it fail ([`crate::manager::UseOutcome::FailedAfterUse`], spec §3.6
//! last paragraph, quirk Q18 when retried).
//!
//! One step at virtual time `t`: deliver what is due (job arrivals, driver completions, job
//! ends, long-poll expiries, core and manager timers), then pass actions between manager, core,
//! GitLab and cloud until none is left, then observe the machine states (timeline, cost per
//! state, invariants). Nothing happens between steps (next-event time).

use std::collections::{BTreeMap, VecDeque};

use crate::autoscaler::{
    AcquireError, Acquired, Action as CoreAction, Core, CoreOptions, EventKind, Input as CoreInput,
    MachineState, RequestId,
};
use crate::cloud::CallId;
use crate::fake_cloud::driver::{FakeCloud, RunnerCloud};
use crate::manager::{
    AcquireOutcome, Action as MgrAction, Input as MgrInput, JobResponse, Manager, ManagerSettings,
    UseOutcome, WorkerId,
};
use crate::random::RngStreams;
use crate::scenario::Scenario;
use crate::time::{SimDuration, SimTime};
use crate::workload::{Job, WorkloadContext, generate_jobs};

mod invariants;

use super::engine::Engine;
use super::records::{
    CostState, EventRow, Finding, JobOutcome, JobRecord, MachineRecord, RunRecords, TimelineRow,
};

/// Things the engine schedules.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    Arrival(usize),
    CallDone(CallId),
    JobEnd(WorkerId, usize),
    Signal(crate::manager::Signal),
    LongPollExpire {
        worker: WorkerId,
        token: u64,
    },
    /// The fake cloud has something due (a delayed store directory, a lost instance).
    CloudWake,
}

/// A job request held by GitLab's long polling (spec §0 M1).
#[derive(Clone, Debug)]
struct Held {
    worker: WorkerId,
    runner: usize,
    token: u64,
}

#[derive(Clone, Debug, Default)]
struct MachineTrack {
    runner: String,
    created: SimTime,
    ready: Option<SimTime>,
    jobs: u32,
    state: Option<CostState>,
    since: SimTime,
    time_in: [u64; 6],
    creation_failed: bool,
}

/// Options of a run.
#[derive(Clone, Copy, Default)]
pub struct RunOptions<'a> {
    /// Called with the fraction of simulated time done (0.0–1.0), at most about 100 times.
    pub progress: Option<&'a dyn Fn(f64)>,
    /// A deliberate core or manager defect, for tests proving the invariant checker can
    /// fail.
    #[doc(hidden)]
    pub sabotage: crate::autoscaler::Sabotage,
    /// Turns the invariant checks off (see the `invariants` module docs). For benchmarks
    /// only: every other run checks. Documented quirks are still counted.
    pub skip_invariants: bool,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A workload could not produce its jobs.
    #[error("{0}")]
    Workload(String),
    /// A runner's MachineOptions or profile cannot be simulated.
    #[error("runner {runner}: {message}")]
    Cloud {
        /// Runner id.
        runner: String,
        /// Why.
        message: String,
    },
}

/// Runs `scenario` to its horizon and returns what it recorded.
///
/// # Errors
/// A workload that cannot be generated (e.g. an unreadable empirical CSV) or machine options the
/// fake cloud cannot read.
pub fn run(scenario: &Scenario, opts: &RunOptions<'_>) -> Result<RunRecords, RunError> {
    let mut w = World::new(scenario, opts.sabotage)?;
    w.check = !opts.skip_invariants;
    w.run(opts);
    Ok(w.finish())
}

struct World<'s> {
    s: &'s Scenario,
    end: SimTime,
    engine: Engine<Ev>,
    manager: Manager,
    core: Core,
    cloud: FakeCloud,
    runner_ids: Vec<String>,
    autoscaled: Vec<bool>,
    jobs: Vec<Job>,
    records: Vec<JobRecord>,
    pending: VecDeque<usize>,
    held: Vec<Held>,
    next_token: u64,
    next_request: u64,
    requests: BTreeMap<RequestId, WorkerId>,
    running: BTreeMap<WorkerId, usize>,
    preparing: BTreeMap<WorkerId, usize>,
    machines: BTreeMap<String, MachineTrack>,
    machine_order: Vec<String>,
    /// Machines whose tracked state is not `None` (seen at the last observation).
    live: std::collections::BTreeSet<String>,
    timeline: Vec<TimelineRow>,
    last_counts: BTreeMap<String, [u32; 6]>,
    events: Vec<EventRow>,
    peak_by_state: [u32; 5],
    peak_total: u32,
    over_limit: BTreeMap<String, bool>,
    quirks: Vec<Finding>,
    violations: Vec<Finding>,
    /// The runner process has exited (after a signal): manager and core are gone, the cloud
    /// keeps billing what is left.
    exited: bool,
    /// When a CloudWake event is scheduled, if any.
    cloud_wake_at: Option<SimTime>,
    /// `docker-machine create` calls running now, by call, with their runner.
    creates_in_flight: BTreeMap<CallId, String>,
    /// The manager asked for the provider's Shutdown and has not heard back yet.
    provider_shutdown_requested: bool,
    /// Invariant checks on (see [`RunOptions::skip_invariants`]).
    check: bool,
    /// What the invariant checker remembers between steps.
    inv: invariants::CheckState,
    /// Draws of `image_pull` faults (their own stream: adding one moves no other draw).
    pulls: crate::random::SimRng,
}

impl<'s> World<'s> {
    fn new(s: &'s Scenario, sabotage: crate::autoscaler::Sabotage) -> Result<Self, RunError> {
        let config = &s.runner.config;
        let streams = RngStreams::new(s.seed);
        let end = SimTime(s.duration.as_millis());
        let ctx = WorkloadContext {
            base_dir: &s.base_dir,
            calendar: &s.calendar,
            end,
        };
        let jobs = generate_jobs(&s.workloads, &ctx, &streams)
            .map_err(|e| RunError::Workload(e.to_string()))?;
        let mut clouds = BTreeMap::new();
        for r in config.autoscaled_runners() {
            let Some(profile) = s.profiles.get(&r.id) else {
                continue;
            };
            let m = r
                .machine
                .as_ref()
                .map(|m| (m.machine_driver.as_str(), m.machine_options.as_slice()));
            let (driver, options) = m.unwrap_or(("", &[]));
            let rc = RunnerCloud::new(profile.clone(), driver, options).map_err(|message| {
                RunError::Cloud {
                    runner: r.id.clone(),
                    message,
                }
            })?;
            clouds.insert(r.id.clone(), rc);
        }
        let mut cloud =
            FakeCloud::new(clouds, streams.stream("cloud")).with_faults(s.faults.clone());
        let core = Core::new(
            s.calendar.clone(),
            CoreOptions {
                seed: s.seed,
                sabotage,
                ..CoreOptions::default()
            },
            config.autoscaled_runners().cloned(),
        );
        let manager = Manager::new(
            ManagerSettings::from_config(config),
            streams.stream("manager"),
        )
        .with_sabotage(sabotage);
        let mut machines = BTreeMap::new();
        let mut machine_order = Vec::new();
        let mut naming = streams.stream("preexisting-machines");
        for pm in &s.machines {
            let Some(template) = config
                .runner(&pm.runner)
                .and_then(|r| r.machine_name_template())
            else {
                continue;
            };
            for _ in 0..pm.count {
                let created_unix =
                    s.calendar.unix_seconds(SimTime::ZERO) - (pm.age.as_millis() / 1000) as i64;
                let name = crate::autoscaler::naming::new_machine_name(
                    &template,
                    created_unix,
                    &mut naming,
                );
                cloud.add_existing(&name, &pm.runner);
                machine_order.push(name.clone());
                machines.insert(
                    name,
                    MachineTrack {
                        runner: pm.runner.clone(),
                        ready: Some(SimTime::ZERO),
                        ..MachineTrack::default()
                    },
                );
            }
        }
        let mut engine = Engine::new();
        for sig in &s.signals {
            let _ = engine.schedule_at(sig.at, Ev::Signal(sig.signal));
        }
        for (i, j) in jobs.iter().enumerate() {
            let _ = engine.schedule_at(j.arrival, Ev::Arrival(i));
        }
        let records = jobs
            .iter()
            .map(|j| JobRecord {
                id: j.id,
                runner: j.runner.clone(),
                arrival: j.arrival,
                picked: None,
                start: None,
                end: None,
                machine: None,
                outcome: JobOutcome::Pending,
                failure_reason: None,
            })
            .collect();
        Ok(World {
            s,
            end,
            engine,
            manager,
            core,
            cloud,
            runner_ids: config.runners.iter().map(|r| r.id.clone()).collect(),
            autoscaled: config.runners.iter().map(|r| r.is_autoscaled()).collect(),
            jobs,
            records,
            pending: VecDeque::new(),
            held: Vec::new(),
            next_token: 0,
            next_request: 0,
            requests: BTreeMap::new(),
            running: BTreeMap::new(),
            preparing: BTreeMap::new(),
            machines,
            machine_order,
            live: std::collections::BTreeSet::new(),
            timeline: Vec::new(),
            last_counts: BTreeMap::new(),
            events: Vec::new(),
            peak_by_state: [0; 5],
            peak_total: 0,
            over_limit: BTreeMap::new(),
            quirks: Vec::new(),
            violations: Vec::new(),
            exited: false,
            provider_shutdown_requested: false,
            creates_in_flight: BTreeMap::new(),
            cloud_wake_at: None,
            check: true,
            inv: invariants::CheckState::default(),
            pulls: streams.stream("image-pull"),
        })
    }

    fn now(&self) -> SimTime {
        self.engine.now()
    }

    fn run(&mut self, opts: &RunOptions<'_>) {
        self.manager.start(SimTime::ZERO);
        self.pump();
        let mut reported = 0u64;
        loop {
            let (core_t, mgr_t) = if self.exited {
                (None, None)
            } else {
                (self.core.poll_timeout(), self.manager.poll_timeout())
            };
            let next = [self.engine.peek_time(), core_t, mgr_t]
                .into_iter()
                .flatten()
                .min();
            let Some(t) = next else { break };
            if t > self.end {
                break;
            }
            if t > self.engine.now() && self.engine.advance_to(t).is_err() {
                // Only events at `t` or later remain, so advancing cannot skip one.
                break;
            }
            self.cloud.advance(t);
            while let Some((_, ev)) = self.engine.pop_until(t) {
                self.deliver(ev);
                self.pump();
            }
            if !self.exited {
                let listing = self.cloud.listing();
                self.core.handle_timeout(t, &listing);
                self.manager.handle_timeout(t);
                self.pump();
            }
            if let Some(p) = opts.progress {
                let done = t.as_millis() * 100 / self.end.as_millis().max(1);
                if done > reported {
                    reported = done;
                    p(done as f64 / 100.0);
                }
            }
        }
        if self.engine.now() < self.end {
            let _ = self.engine.advance_to(self.end);
        }
        // The cloud's own stockout episodes (profile `[capacity]`): a row at each start and
        // end within the run (kept in time order by the final sort).
        for so in self.cloud.stockouts_until(self.end) {
            let (runners, pool) = (so.runners.join(","), so.pool.describe());
            let until = SimDuration(so.end.since(so.start).0.div_ceil(1000) * 1000);
            self.events.push(EventRow {
                time: so.start,
                runner: runners.clone(),
                machine: String::new(),
                event: "capacity stockout".into(),
                reason: format!("{pool}: creates fail for {until}"),
            });
            if so.end <= self.end {
                self.events.push(EventRow {
                    time: so.end,
                    runner: runners,
                    machine: String::new(),
                    event: "capacity restored".into(),
                    reason: pool,
                });
            }
        }
    }

    fn deliver(&mut self, ev: Ev) {
        let now = self.now();
        match ev {
            Ev::Arrival(i) => {
                self.pending.push_back(i);
                self.event("", "", "job pending", format!("job {}", self.jobs[i].id));
                self.answer_held();
            }
            Ev::CallDone(id) => {
                self.creates_in_flight.remove(&id);
                if let Some(c) = self.cloud.finish_call(now, id)
                    && !self.exited
                {
                    let listing = self.cloud.listing();
                    self.core.handle(now, CoreInput::DriverDone(c), &listing);
                }
            }
            Ev::Signal(signal) => {
                if !self.exited {
                    self.event("", "", "signal", signal.name().to_string());
                    self.manager.handle(now, MgrInput::Signal(signal));
                }
            }
            Ev::JobEnd(worker, job) => {
                if self.running.get(&worker) == Some(&job) {
                    self.running.remove(&worker);
                    let i = job;
                    let r = &mut self.records[i];
                    r.end = Some(now);
                    r.outcome = JobOutcome::Succeeded;
                    let (runner, machine) = (
                        r.runner.clone().unwrap_or_default(),
                        r.machine.clone().unwrap_or_default(),
                    );
                    self.event(
                        &runner,
                        &machine,
                        "job finished",
                        format!("job {}", self.jobs[i].id),
                    );
                    self.manager.handle(now, MgrInput::JobDone { worker });
                }
            }
            Ev::CloudWake => {
                self.cloud_wake_at = None;
                for lost in self.cloud.vanished(now) {
                    self.event(
                        &lost.runner,
                        &lost.name,
                        "instance lost",
                        format!("{:?}", lost.cause),
                    );
                    if self.exited {
                        continue;
                    }
                    // A job running on it fails; the runner finds the machine unreachable later.
                    let on_it = self
                        .running
                        .iter()
                        .find(|(_, j)| {
                            self.records[**j].machine.as_deref() == Some(lost.name.as_str())
                        })
                        .map(|(w, j)| (*w, *j));
                    if let Some((worker, i)) = on_it {
                        self.running.remove(&worker);
                        let rec = &mut self.records[i];
                        rec.end = Some(now);
                        rec.outcome = JobOutcome::Failed;
                        rec.failure_reason = Some("runner_system_failure".to_string());
                        self.event(
                            &lost.runner,
                            &lost.name,
                            "job failed",
                            format!("job {}: the instance vanished", self.jobs[i].id),
                        );
                        self.manager.handle(now, MgrInput::JobDone { worker });
                    }
                }
            }
            Ev::LongPollExpire { worker, token } => {
                if let Some(pos) = self
                    .held
                    .iter()
                    .position(|h| h.worker == worker && h.token == token)
                {
                    self.held.remove(pos);
                    self.manager.handle(
                        now,
                        MgrInput::JobResponse {
                            worker,
                            response: JobResponse::NoJob,
                        },
                    );
                }
            }
        }
    }

    /// Hands a newly pending job to the longest-held long-poll request that may take it.
    fn answer_held(&mut self) {
        let mut k = 0;
        while k < self.held.len() {
            let h = self.held[k].clone();
            if let Some(job) = self.take_job(h.runner) {
                self.held.remove(k);
                self.hand_out(h.worker, h.runner, job);
            } else {
                k += 1;
            }
        }
    }

    /// The oldest pending job runner `r` may take (untagged, or tagged with its id).
    fn take_job(&mut self, r: usize) -> Option<usize> {
        let id = &self.runner_ids[r];
        let pos = self
            .pending
            .iter()
            .position(|&i| self.jobs[i].runner.as_ref().is_none_or(|x| x == id))?;
        self.pending.remove(pos)
    }

    fn hand_out(&mut self, worker: WorkerId, runner: usize, job: usize) {
        let now = self.now();
        let rec = &mut self.records[job];
        rec.picked = Some(now);
        rec.runner = Some(self.runner_ids[runner].clone());
        self.preparing.insert(worker, job);
        let id = self.jobs[job].id;
        self.event(
            &self.runner_ids[runner].clone(),
            "",
            "job received",
            format!("job {id}"),
        );
        self.manager.handle(
            now,
            MgrInput::JobResponse {
                worker,
                response: JobResponse::Job(id),
            },
        );
    }

    /// The provider's Shutdown (spec §4.2–§4.3): the core drains (or logs that it skips the
    /// drain); the manager hears back when [`Core::shutdown_status`] says it returned.
    fn shutdown_provider(&mut self, budget: SimDuration) {
        let now = self.now();
        let drain = self.s.runner.config.shutdown_drain.clone();
        let listing = self.cloud.listing();
        self.core
            .handle(now, CoreInput::Shutdown { drain, budget }, &listing);
        self.provider_shutdown_requested = true;
    }

    /// The process exits: in-flight removals are cut off (their VMs stay: left running while
    /// the store entry remains, spec §4.2, Q21); `docker-machine create` children are not
    /// killed by the runner (§4.2), so creates run to completion in the cloud.
    fn exit(&mut self) {
        self.exited = true;
        self.cloud.cut_off_removals();
        self.held.clear();
    }

    fn request_id(&mut self, worker: WorkerId) -> RequestId {
        self.next_request += 1;
        let id = RequestId(self.next_request);
        self.requests.insert(id, worker);
        id
    }

    /// Passes actions around until nobody has anything left to say.
    fn pump(&mut self) {
        if self.exited {
            self.observe();
            return;
        }
        loop {
            let mut progress = false;
            while let Some(a) = self.manager.poll_action() {
                progress = true;
                self.on_manager(a);
            }
            while let Some(a) = self.core.poll_action() {
                progress = true;
                self.on_core(a);
            }
            if !progress {
                break;
            }
        }
        self.drain_core_events();
        if self.provider_shutdown_requested
            && matches!(
                self.core.shutdown_status(),
                Some(crate::autoscaler::ShutdownStatus::Returned { .. })
            )
        {
            self.provider_shutdown_requested = false;
            let now = self.now();
            self.manager.handle(now, MgrInput::ProviderShutdownDone);
            self.pump();
            return;
        }
        self.observe();
    }

    fn on_manager(&mut self, a: MgrAction) {
        let now = self.now();
        match a {
            MgrAction::Acquire { worker, runner } => {
                if self.autoscaled[runner] {
                    let request = self.request_id(worker);
                    let listing = self.cloud.listing();
                    let runner = self.runner_ids[runner].clone();
                    self.core
                        .handle(now, CoreInput::Acquire { request, runner }, &listing);
                } else {
                    self.manager.handle(
                        now,
                        MgrInput::AcquireDone {
                            worker,
                            outcome: AcquireOutcome::Nothing,
                        },
                    );
                }
            }
            MgrAction::RequestJob { worker, runner, .. } if self.manager.is_stopping() => {
                // Invariant: after a stop signal no job request is made (spec §4.1).
                let detail = format!(
                    "worker {worker} requested a job for runner {} after the signal",
                    self.runner_ids[runner]
                );
                self.violate("no_job_request_after_stop", detail);
                self.manager.handle(
                    now,
                    MgrInput::JobResponse {
                        worker,
                        response: JobResponse::NoJob,
                    },
                );
            }
            MgrAction::RequestJob { worker, runner, .. } => match self.take_job(runner) {
                Some(job) => self.hand_out(worker, runner, job),
                None if self.s.gitlab.long_poll > SimDuration::ZERO => {
                    self.next_token += 1;
                    let token = self.next_token;
                    self.held.push(Held {
                        worker,
                        runner,
                        token,
                    });
                    self.engine.schedule_after(
                        self.s.gitlab.long_poll,
                        Ev::LongPollExpire { worker, token },
                    );
                }
                None => self.manager.handle(
                    now,
                    MgrInput::JobResponse {
                        worker,
                        response: JobResponse::NoJob,
                    },
                ),
            },
            MgrAction::Use {
                worker,
                runner,
                acquired,
                attempt,
                ..
            } => {
                self.note_preparation_retry(attempt, acquired.as_deref());
                if self.autoscaled[runner] {
                    let request = self.request_id(worker);
                    let listing = self.cloud.listing();
                    let runner = self.runner_ids[runner].clone();
                    self.core.handle(
                        now,
                        CoreInput::Use {
                            request,
                            runner,
                            acquired,
                        },
                        &listing,
                    );
                } else {
                    let outcome = UseOutcome::Ready {
                        machine: None,
                        new_data: false,
                    };
                    self.manager
                        .handle(now, MgrInput::UseDone { worker, outcome });
                }
            }
            MgrAction::RunJob {
                worker,
                runner,
                machine,
                job,
            } => {
                let Some(i) = self.preparing.remove(&worker) else {
                    self.check_unprepared_start(job);
                    return;
                };
                self.check_job_start(i, runner, machine.as_deref());
                let rec = &mut self.records[i];
                rec.start = Some(now);
                rec.machine = machine.clone();
                rec.outcome = JobOutcome::Running;
                if let Some(m) = machine.as_ref().and_then(|m| self.machines.get_mut(m)) {
                    m.jobs += 1;
                    let jobs = m.jobs;
                    self.check_max_builds(runner, machine.as_deref().unwrap_or(""), jobs);
                }
                let id = self.jobs[i].id;
                self.event(
                    &self.runner_ids[runner].clone(),
                    machine.as_deref().unwrap_or(""),
                    "job started",
                    format!("job {id}"),
                );
                self.running.insert(worker, i);
                self.engine
                    .schedule_after(self.jobs[i].duration, Ev::JobEnd(worker, i));
            }
            MgrAction::Release { runner, machine } => {
                let listing = self.cloud.listing();
                let runner = self.runner_ids[runner].clone();
                self.core
                    .handle(now, CoreInput::Release { runner, machine }, &listing);
            }
            MgrAction::JobFailed {
                runner,
                job,
                reason,
                message,
            } => {
                if let Some(i) = self.jobs.iter().position(|j| j.id == job) {
                    self.check_job_not_ended(i);
                    self.preparing.retain(|_, v| *v != i);
                    let rec = &mut self.records[i];
                    rec.end = Some(now);
                    rec.outcome = JobOutcome::Failed;
                    rec.failure_reason = Some(reason.as_str().to_string());
                }
                self.event(
                    &self.runner_ids[runner].clone(),
                    "",
                    "job failed",
                    format!("job {job}: {}: {message}", reason.as_str()),
                );
            }
            MgrAction::CancelJobRequest { worker } => {
                self.held.retain(|h| h.worker != worker);
            }
            MgrAction::AbortJob {
                worker,
                runner,
                job,
                message,
            } => {
                if let Some(i) = self.running.remove(&worker) {
                    let rec = &mut self.records[i];
                    rec.end = Some(now);
                    rec.outcome = JobOutcome::Failed;
                    rec.failure_reason = Some(
                        crate::manager::FailureReason::RunnerInterrupted
                            .as_str()
                            .to_string(),
                    );
                    let machine = rec.machine.clone().unwrap_or_default();
                    self.event(
                        &self.runner_ids[runner].clone(),
                        &machine,
                        "job aborted",
                        format!("job {job}: {message}"),
                    );
                }
            }
            MgrAction::ShutdownProvider { budget } => {
                self.event("", "", "provider shutdown", format!("budget {budget}"));
                self.shutdown_provider(budget);
            }
            MgrAction::Exit { reason } => {
                self.check_exit();
                self.event("", "", "process exited", reason.to_string());
                self.exit();
            }
            MgrAction::Event { runner, what } => {
                self.event(
                    &self.runner_ids[runner].clone(),
                    "",
                    "manager",
                    what.to_string(),
                );
            }
        }
    }

    fn on_core(&mut self, a: CoreAction) {
        let now = self.now();
        match a {
            CoreAction::Call(call) => {
                let runner = self
                    .core
                    .record(&call.machine)
                    .and_then(|r| r.runner.clone());
                if let crate::cloud::CallKind::Create { .. } = call.kind
                    && !self.machines.contains_key(&call.machine)
                {
                    self.machine_order.push(call.machine.clone());
                    self.machines.insert(
                        call.machine.clone(),
                        MachineTrack {
                            runner: runner.clone().unwrap_or_default(),
                            created: now,
                            since: now,
                            ..MachineTrack::default()
                        },
                    );
                }
                if let crate::cloud::CallKind::Create { .. } = call.kind
                    && let Some(r) = runner.clone()
                {
                    self.creates_in_flight.insert(call.id, r.clone());
                    self.check_growth(&r);
                }
                // `None`: a hung call; the core's timeout kills it (spec §3.12).
                if let Some(at) = self.cloud.start_call(now, &call, runner.as_deref()) {
                    let _ = self.engine.schedule_at(at.max(now), Ev::CallDone(call.id));
                }
            }
            CoreAction::Kill(id) => {
                self.creates_in_flight.remove(&id);
                self.cloud.kill(id)
            }
            CoreAction::AcquireDone {
                request,
                result,
                runner,
            } => {
                let Some(worker) = self.requests.remove(&request) else {
                    return;
                };
                if let (Err(AcquireError::NoFreeMachines), Some(r)) =
                    (&result, Some(runner.as_str()))
                {
                    self.note_no_free_machines(r);
                }
                let outcome = match result {
                    Ok(Acquired::Machine(m)) => AcquireOutcome::Machine(m),
                    Ok(Acquired::Nothing) => AcquireOutcome::Nothing,
                    Err(AcquireError::NoFreeMachines) => AcquireOutcome::NoFreeMachines,
                    Err(e) => AcquireOutcome::Error(e.to_string()),
                };
                self.manager
                    .handle(now, MgrInput::AcquireDone { worker, outcome });
            }
            CoreAction::UseDone {
                request,
                result,
                runner,
            } => {
                let Some(worker) = self.requests.remove(&request) else {
                    return;
                };
                // A build aborted meanwhile (SIGTERM) pulls nothing: Cleanup only.
                let pulls = self.preparing.contains_key(&worker);
                let outcome = match result {
                    Ok(u) => match pulls.then(|| self.image_pull_fault(&runner)).flatten() {
                        Some((error, retriable)) => {
                            self.event(
                                &runner,
                                &u.machine,
                                "image pull failed",
                                format!(
                                    "{}: {error}",
                                    if retriable { "retried" } else { "not retried" }
                                ),
                            );
                            UseOutcome::FailedAfterUse {
                                machine: Some(u.machine),
                                new_data: u.new_data,
                                error,
                                retriable,
                            }
                        }
                        None => UseOutcome::Ready {
                            machine: Some(u.machine),
                            new_data: u.new_data,
                        },
                    },
                    Err(e) => UseOutcome::Failed(e.to_string()),
                };
                self.manager
                    .handle(now, MgrInput::UseDone { worker, outcome });
            }
        }
    }

    /// Whether the job's image pull, right after a successful Use for `runner`, fails: the
    /// first `image_pull` fault active now whose `scope.runner` matches, drawing its
    /// probability from the `image-pull` stream (only when strictly between 0 and 1). Returns
    /// GitLab Runner's message and whether preparation retries it (the fault's `retried`).
    /// The pull takes no simulated time (the registry refuses at once).
    fn image_pull_fault(&mut self, runner: &str) -> Option<(String, bool)> {
        let now = self.now();
        for f in &self.s.faults {
            if f.kind != crate::fake_cloud::FaultKind::ImagePull
                || !f.active_at(now)
                || f.scope.runner.as_deref().is_some_and(|r| r != runner)
            {
                continue;
            }
            let p = f.probability();
            let fails = if p >= 1.0 {
                true
            } else if p <= 0.0 {
                false
            } else {
                crate::random::dist::unit_f64(&mut self.pulls) < p
            };
            if fails {
                return Some((f.image_pull_error(), f.retried.unwrap_or(false)));
            }
        }
        None
    }

    fn event(&mut self, runner: &str, machine: &str, event: &str, reason: String) {
        self.events.push(EventRow {
            time: self.now(),
            runner: runner.to_string(),
            machine: machine.to_string(),
            event: event.to_string(),
            reason,
        });
    }

    fn drain_core_events(&mut self) {
        let mut background: Vec<String> = Vec::new();
        let mut on_demand_runners: Vec<String> = Vec::new();
        while let Some(d) = self.core.poll_drain_event() {
            self.note_drain_event(&d);
            let label = match d.kind {
                crate::autoscaler::DrainEventKind::OrphanedAfterDeadline => "orphaned",
                _ => "drain",
            };
            self.events.push(EventRow {
                time: d.at,
                runner: String::new(),
                machine: d.machine.clone().unwrap_or_default(),
                event: label.to_string(),
                reason: d.kind.to_string(),
            });
        }
        while let Some(e) = self.core.poll_event() {
            self.note_core_event(&e);
            let (label, reason) = event_label(&e.kind);
            if let (EventKind::CreationStarted { on_demand, .. }, Some(r)) =
                (&e.kind, e.runner.as_ref())
            {
                if *on_demand {
                    on_demand_runners.push(r.clone());
                } else {
                    background.push(r.clone());
                }
            }
            if let EventKind::Adopted = e.kind {
                self.quirks.push(Finding {
                    time_ms: e.at.as_millis(),
                    invariant: "adopted_used_once",
                    detail: format!(
                        "{} adopted with UsedCount 1",
                        e.machine.clone().unwrap_or_default()
                    ),
                    quirk: Some("Q3"),
                });
            }
            if let EventKind::Created { .. } = e.kind
                && let Some(m) = e.machine.as_ref().and_then(|m| self.machines.get_mut(m))
            {
                m.ready = Some(e.at);
            }
            if let EventKind::CreationFailed { .. } = e.kind
                && let Some(m) = e.machine.as_ref().and_then(|m| self.machines.get_mut(m))
            {
                m.creation_failed = true;
            }
            if let EventKind::Adopted = e.kind
                && let (Some(name), Some(runner)) = (e.machine.as_ref(), e.runner.as_ref())
                && let Some(m) = self.machines.get_mut(name)
            {
                m.runner = runner.clone();
            }
            self.events.push(EventRow {
                time: e.at,
                runner: e.runner.unwrap_or_default(),
                machine: e.machine.unwrap_or_default(),
                event: label.to_string(),
                reason,
            });
        }
        if !background.is_empty() {
            self.check_background_creations(&background, &on_demand_runners);
        }
    }

    /// Records machine states after a step: per-machine time in state (for cost), timeline
    /// rows on change, peaks, and the `limit` check (excess counted as spec Q10, not a
    /// violation).
    fn observe(&mut self) {
        let now = self.now();
        if let Some(t) = self.cloud.next_wakeup()
            && self.cloud_wake_at.is_none_or(|w| t < w)
        {
            let at = t.max(now);
            if self.engine.schedule_at(at, Ev::CloudWake).is_ok() {
                self.cloud_wake_at = Some(at);
            }
        }
        let mut counts: BTreeMap<String, [u32; 6]> = self
            .runner_ids
            .iter()
            .map(|r| (r.clone(), [0; 6]))
            .collect();
        let mut seen: BTreeMap<&str, CostState> = BTreeMap::new();
        let mut excess: Vec<String> = Vec::new();
        // Records Acquire's Total leaves out (spec §3.4 step 3, §3.5): not Creating and with no
        // directory listed (e.g. a create that failed before writing it, being removed).
        let mut unlisted: BTreeMap<String, u32> = BTreeMap::new();
        for rec in self.core.records() {
            let st = match rec.state {
                MachineState::Creating => CostState::Creating,
                MachineState::Idle => CostState::Idle,
                MachineState::Acquired => CostState::Acquired,
                MachineState::Used => CostState::Used,
                MachineState::Removing => CostState::Removing,
            };
            seen.insert(rec.name.as_str(), st);
            let runner = rec
                .runner
                .clone()
                .or_else(|| self.machines.get(&rec.name).map(|m| m.runner.clone()));
            if rec.state != MachineState::Creating
                && !self.cloud.in_store(&rec.name)
                && let Some(r) = &runner
            {
                *unlisted.entry(r.clone()).or_insert(0) += 1;
            }
            if let Some(c) = runner.and_then(|r| counts.get_mut(&r)) {
                c[st.index()] += 1;
            }
        }
        // Machines the cloud still bills but the runner does not track: orphaned from the
        // runner's view (or not yet adopted, for pre-existing machines: counted as idle).
        for (name, vm) in self.cloud.vms() {
            if !seen.contains_key(name.as_str()) {
                let st = if self.cloud.in_store(name) {
                    CostState::Idle
                } else {
                    CostState::Orphaned
                };
                seen.insert(name.as_str(), st);
                let _ = vm;
            }
        }
        // Only machines seen now or tracked until now can change state: the others are gone
        // for good, so a long run does not rescan every machine it ever had.
        let changed: Vec<String> = self
            .live
            .iter()
            .filter(|n| !seen.contains_key(n.as_str()))
            .cloned()
            .chain(seen.keys().map(|n| n.to_string()))
            .collect();
        for name in changed {
            let st = seen.get(name.as_str()).copied();
            let Some(track) = self.machines.get_mut(&name) else {
                continue;
            };
            if st != track.state {
                if let Some(old) = track.state {
                    track.time_in[old.index()] += now.since(track.since).as_millis();
                }
                track.state = st;
                track.since = now;
            }
            if st.is_some() {
                self.live.insert(name);
            } else {
                self.live.remove(&name);
            }
        }
        for (i, id) in self.runner_ids.iter().enumerate() {
            let mut c = counts.get(id).copied().unwrap_or_default();
            c[5] = self
                .pending
                .iter()
                .filter(|&&j| self.jobs[j].runner.as_ref().is_none_or(|x| x == id))
                .count() as u32;
            if self.last_counts.get(id) != Some(&c)
                && (self.autoscaled[i] || c[5] > 0 || self.last_counts.contains_key(id))
            {
                self.last_counts.insert(id.clone(), c);
                self.timeline.push(TimelineRow {
                    time: now,
                    runner: id.clone(),
                    creating: c[0],
                    idle: c[1],
                    acquired: c[2],
                    used: c[3],
                    removing: c[4],
                    pending_jobs: c[5],
                });
            }
            let total: u32 = c[..5].iter().sum::<u32>() - unlisted.get(id).copied().unwrap_or(0);
            let limit = self.s.runner.config.runners[i].limit;
            let over = limit > 0 && i64::from(total) > limit;
            let was = self.over_limit.get(id).copied().unwrap_or(false);
            if over && !was {
                excess.push(format!("runner {id}: {total} machines with limit {limit}"));
            }
            self.over_limit.insert(id.clone(), over);
        }
        let mut totals = [0u32; 5];
        for c in counts.values() {
            for (t, n) in totals.iter_mut().zip(c) {
                *t += n;
            }
        }
        for (peak, t) in self.peak_by_state.iter_mut().zip(totals) {
            *peak = (*peak).max(t);
        }
        self.peak_total = self.peak_total.max(totals.iter().sum());
        for detail in excess {
            self.quirk("Q10", "machines_within_limit", detail);
        }
        self.check_after_step();
    }

    fn finish(mut self) -> RunRecords {
        self.check_jobs_at_horizon();
        let end = self.end;
        for track in self.machines.values_mut() {
            if let Some(st) = track.state {
                track.time_in[st.index()] += end.since(track.since).as_millis();
            }
        }
        let alive_at_end: std::collections::BTreeSet<String> =
            self.cloud.vms().keys().cloned().collect();
        let bills = self.cloud.close(end);
        let cloud_bill_usd: f64 = bills.iter().map(|b| b.usd).sum();
        let mut by_name: BTreeMap<String, (f64, SimTime)> = BTreeMap::new();
        for b in &bills {
            let e = by_name.entry(b.name.clone()).or_insert((0.0, b.to));
            e.0 += b.usd;
            e.1 = b.to;
        }
        let in_store_at_end: Vec<bool> = self
            .machine_order
            .iter()
            .map(|n| self.cloud.in_store(n))
            .collect();
        let mut machines = Vec::new();
        for (name, still_listed) in self.machine_order.iter().zip(in_store_at_end) {
            let Some(t) = self.machines.get(name) else {
                continue;
            };
            // A machine the cloud never billed (its create failed before the VM existed)
            // was gone when the runner dropped its record.
            let (usd, last) = by_name
                .get(name)
                .copied()
                .unwrap_or((0.0, if t.state.is_none() { t.since } else { end }));
            let alive = alive_at_end.contains(name);
            let orphaned_by = bills
                .iter()
                .find(|b| &b.name == name)
                .and_then(|b| b.orphaned);
            let end_state = if let Some(cause) = orphaned_by {
                self.events.push(EventRow {
                    time: end,
                    runner: t.runner.clone(),
                    machine: name.clone(),
                    event: "orphaned".into(),
                    reason: cause.describe().to_string(),
                });
                "orphaned".to_string()
            } else if alive && still_listed {
                "left_running".to_string()
            } else if alive {
                "orphaned".to_string()
            } else if t.creation_failed {
                "creation_failed".to_string()
            } else {
                "removed".to_string()
            };
            let total_ms: u64 = t.time_in.iter().sum();
            let mut cost_by_state = [0.0; 6];
            if total_ms > 0 {
                for (c, ms) in cost_by_state.iter_mut().zip(t.time_in) {
                    *c = usd * ms as f64 / total_ms as f64;
                }
            } else {
                cost_by_state[CostState::Creating.index()] = usd;
            }
            machines.push(MachineRecord {
                name: name.clone(),
                runner: t.runner.clone(),
                created: t.created,
                ready: t.ready,
                removed: if alive { None } else { Some(last) },
                jobs: t.jobs,
                end_state,
                cost_usd: usd,
                cost_by_state,
            });
        }
        let machine_usd: f64 = machines.iter().map(|m| m.cost_usd).sum();
        if self.check && (machine_usd - cloud_bill_usd).abs() > 1e-6 {
            invariants::violation(
                &mut self.violations,
                &mut self.events,
                end,
                "cost_equals_cloud_bill",
                format!(
                    "machines sum to {machine_usd:.6} USD, the cloud billed {cloud_bill_usd:.6} USD"
                ),
            );
        }
        let mut jobs = self.records;
        for j in jobs.iter_mut() {
            if j.outcome == JobOutcome::Running && j.start.is_none() {
                // Picked but still in preparation at the horizon: running from GitLab's view.
                j.outcome = JobOutcome::Running;
            }
            if j.picked.is_some() && j.outcome == JobOutcome::Pending {
                j.outcome = JobOutcome::Running;
            }
            // Invariant: every job is accounted for exactly once, with a consistent history.
            let consistent = match j.outcome {
                JobOutcome::Succeeded => {
                    j.picked.is_some_and(|p| p >= j.arrival)
                        && j.start.zip(j.picked).is_some_and(|(s, p)| s >= p)
                        && j.end.zip(j.start).is_some_and(|(e, s)| e >= s)
                }
                JobOutcome::Failed => {
                    j.picked.is_some() && j.end.is_some() && j.failure_reason.is_some()
                }
                JobOutcome::Running => j.picked.is_some() && j.end.is_none(),
                JobOutcome::Pending => j.picked.is_none() && j.start.is_none(),
            };
            if self.check && !consistent {
                invariants::violation(
                    &mut self.violations,
                    &mut self.events,
                    end,
                    "every_job_ends_once",
                    format!("job {} has an inconsistent history: {j:?}", j.id),
                );
            }
        }
        let mut warnings: Vec<String> = self
            .s
            .runner
            .warnings
            .iter()
            .map(|w| crate::config::diagnostic::one_line(w, &self.s.runner.source.name))
            .collect();
        warnings.extend(self.s.warnings.iter().cloned());
        for id in &self.runner_ids {
            if let Some(rc) = self.cloud.runner(id)
                && rc.quote.source == crate::fake_cloud::PriceSource::Fallback
            {
                warnings.push(format!(
                    "runner {id}: instance type {:?} is not in the {} profile's price table: billed at its fallback price {} USD/h",
                    rc.spec.instance_type, rc.profile.name, rc.quote.usd_per_hour
                ));
            }
        }
        let mut api_calls = BTreeMap::new();
        for (k, v) in &self.cloud.api_calls {
            api_calls.insert(k.clone(), *v);
        }
        // Rows added by the final checks come last; keep the log in time order.
        self.events.sort_by_key(|e| e.time);
        let mut records = RunRecords {
            scenario: self.s.name.clone(),
            seed: self.s.seed,
            simulated: self.s.duration,
            jobs,
            machines,
            timeline: self.timeline,
            events: self.events,
            peak_by_state: self.peak_by_state,
            peak_total: self.peak_total,
            api_calls,
            api_throttled: self.cloud.throttled_total(),
            cloud_bill_usd,
            violations: self.violations,
            quirks: self.quirks,
            warnings,
            ..RunRecords::default()
        };
        crate::sim::metrics::add_fault_metrics(&mut records, &self.cloud, &self.s.faults, end);
        records
    }
}

/// events.csv's `event` and `reason` columns for a core event.
fn event_label(k: &EventKind) -> (&'static str, String) {
    match k {
        EventKind::Adopted => ("adopted", "machine found on disk: Idle, UsedCount 1".into()),
        EventKind::AcquireQueued => ("acquire queued", String::new()),
        EventKind::AcquireResult { outcome } => ("acquire", outcome.clone()),
        EventKind::RemovalRequested { reason } => ("removal requested", reason.clone()),
        EventKind::CreationStarted { on_demand, .. } => (
            "creation started",
            if *on_demand { "on demand" } else { "idle" }.into(),
        ),
        EventKind::WaitingForGrowthCapacity { .. } => {
            ("waiting for growth capacity", k.to_string())
        }
        EventKind::Created { .. } => ("created", k.to_string()),
        EventKind::CreationFailed { error } => ("creation failed", error.clone()),
        EventKind::CannotConnect => ("cannot connect", "machine is unavailable".into()),
        EventKind::RemovalSkipped => ("removal skipped", "machine does not exist".into()),
        EventKind::WaitingForStuckLock => ("waiting for stuck-removal lock", String::new()),
        EventKind::StopFailed { error } => ("stop failed", error.clone()),
        EventKind::RemoveAttemptFailed { error, .. } => ("remove attempt failed", error.clone()),
        EventKind::GaveUp => ("removal gave up", "The remote VM may be orphaned.".into()),
        EventKind::ForceRemoveFailed { error } => ("force remove failed", error.clone()),
        EventKind::Removed { gave_up } => (
            "removed",
            if *gave_up { "after giving up" } else { "" }.into(),
        ),
        EventKind::UseAttemptFailed { error, .. } => ("use attempt failed", error.clone()),
        EventKind::Used { new_data } => (
            "used",
            if *new_data {
                "new data"
            } else {
                "acquired machine"
            }
            .into(),
        ),
        EventKind::UseFailed { error } => ("use failed", error.clone()),
        EventKind::Released => ("released", String::new()),
        EventKind::ReleaseIgnored => ("release ignored", String::new()),
        EventKind::ReleasedUnknown => ("released unknown machine", k.to_string()),
        EventKind::ReleasedNotHeld => ("released machine not held", k.to_string()),
        EventKind::CallTimedOut { command, .. } => {
            ("call timed out", format!("docker-machine {command}"))
        }
        EventKind::CreationLeftByWaiter => ("creation left by waiter", k.to_string()),
        EventKind::LateCompletion { .. } => ("late completion ignored", String::new()),
    }
}
