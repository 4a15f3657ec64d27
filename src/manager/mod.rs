//! The runner-manager process model (GitLab Runner's `commands/multi.go` around the provider;
//! spec §1.4 with §0 M1–M7 and W9), sans-IO like the autoscaler core: it never reads a clock
//! or does IO. The driver (simulator or live mode) feeds it [`Input`]s stamped with `now`,
//! executes the [`Action`]s it emits, and calls [`Manager::handle_timeout`] at
//! [`Manager::poll_timeout`].
//!
//! What it models:
//! * `concurrent` workers; each serves one runner at a time through the cycle
//!   build slot → request slot → provider Acquire → job request → Use (preparation) → job →
//!   Release (spec §1.4).
//! * The feeder: runners in config order, each handed to a free worker — **blocking** until one
//!   is free, so every later runner waits too — then a sleep of `check_interval / N` with N the
//!   number of **all** `[[runners]]` entries (spec §0 M5).
//! * The immediate requeue after a job is received (unless `strict_check_interval`): a
//!   non-blocking hand-off, **dropped** unless a worker is idle at that instant (M5).
//! * Build slots capped by `limit` and request slots capped by adaptive `request_concurrency`,
//!   both checked before Acquire (M1, M2); the adaptive factor (M3).
//! * Job-request HTTP retries: up to 5 attempts, exponential backoff 100 ms → 60 s (factor 2,
//!   jitter) unless the server names the wait (M4); all slots and the acquired machine stay held.
//! * Health: 3 consecutive failed job requests (403, transport error) make the feeder skip the
//!   runner for 60 min, then one request is forced (M6).
//! * Preparation (Use) attempted 3 times in total, waiting 3 s after every failed attempt,
//!   the last included, then the job fails with `runner_system_failure` (§3.6, W9).
//! * A preparation step that fails **after** Use succeeded ([`UseOutcome::FailedAfterUse`],
//!   e.g. the job's image pull): the executor's Cleanup releases a machine Use returned as new
//!   data; an infrastructure error is retried like a failed Use, with the same Acquire data —
//!   the machine from Acquire is Used now, so the core's Use takes another machine (quirk
//!   Q18; W6); a build error is not retried (W9). The machine from Acquire stays Used until
//!   the worker's deferred Release.
//!
//! * Signals (spec §4.1, §0 W8, M17): SIGQUIT stops the feeder, cancels job requests (their
//!   machines are released), lets running jobs finish, then shuts the provider down under
//!   `shutdown_timeout`; SIGTERM/SIGINT also abort running builds (`runner_interrupted`) and
//!   exit when `shutdown_timeout` runs out; a second forceful signal exits at once. See
//!   [`shutdown`].

pub mod adaptive;
pub mod shutdown;

pub use shutdown::Signal;

use crate::random::SimRng;
use rand::Rng;

use crate::autoscaler::Sabotage;
use crate::config::Config;
use crate::time::{SimDuration, SimTime};

use adaptive::{AdaptiveConcurrency, RequestResult};

/// Index of a worker goroutine (0 ≤ id < `concurrent`).
pub type WorkerId = usize;
/// Index of a runner in the config's `[[runners]]` array.
pub type RunnerIdx = usize;
/// A GitLab job id.
pub type JobId = u64;

/// Attempts the HTTP layer makes per job request (spec §0 M4).
pub const JOB_REQUEST_ATTEMPTS: u32 = 5;
/// First backoff between job-request attempts (spec §0 M4).
pub const JOB_REQUEST_BACKOFF_MIN: SimDuration = SimDuration::from_millis(100);
/// Largest backoff between job-request attempts (spec §0 M4).
pub const JOB_REQUEST_BACKOFF_MAX: SimDuration = SimDuration::from_secs(60);
/// Preparation attempts per job (`PreparationRetries`, spec §3.6, W9).
pub const PREPARATION_ATTEMPTS: u32 = 3;
/// Wait after each failed preparation attempt (spec §3.6, W9).
pub const PREPARATION_RETRY_WAIT: SimDuration = SimDuration::from_secs(3);
/// Consecutive failed job requests that make a runner unhealthy (spec §0 M6).
pub const UNHEALTHY_AFTER_FAILURES: u32 = 3;
/// How long the feeder skips an unhealthy runner (spec §0 M6).
pub const UNHEALTHY_SKIP: SimDuration = SimDuration::from_mins(60);

/// What the manager needs of one `[[runners]]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct RunnerSettings {
    /// The runner's stable id (`name` or `runners[i]`).
    pub id: String,
    /// `limit` (0 = unlimited): concurrent processRunner cycles, checked before Acquire.
    pub limit: i64,
    /// `request_concurrency` as used (≥ 1).
    pub request_concurrency: i64,
    /// `strict_check_interval`.
    pub strict_check_interval: bool,
}

/// What the manager needs of the whole config.
#[derive(Clone, Debug, PartialEq)]
pub struct ManagerSettings {
    /// `concurrent` (≥ 1): the number of workers.
    pub concurrent: usize,
    /// `check_interval` as used (≤ 0 → 3 s).
    pub check_interval: SimDuration,
    /// Every `[[runners]]` entry in file order.
    pub runners: Vec<RunnerSettings>,
    /// `shutdown_timeout` as used (≤ 0 → 30 s): the provider Shutdown budget and the
    /// forceful-shutdown limit (spec §4.1).
    pub shutdown_timeout: SimDuration,
}

impl ManagerSettings {
    /// The settings GitLab Runner derives from `config` (defaults applied, spec §1.4).
    pub fn from_config(config: &Config) -> Self {
        ManagerSettings {
            concurrent: config.concurrent.max(1) as usize,
            check_interval: SimDuration::from_secs(config.effective_check_interval_secs() as u64),
            runners: config
                .runners
                .iter()
                .map(|r| RunnerSettings {
                    id: r.id.clone(),
                    limit: r.limit,
                    request_concurrency: r.effective_request_concurrency(),
                    strict_check_interval: r.strict_check_interval,
                })
                .collect(),
            shutdown_timeout: SimDuration::from_secs(
                config.effective_shutdown_timeout_secs() as u64
            ),
        }
    }
}

/// The provider's answer to Acquire (spec §3.4 step 7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AcquireOutcome {
    /// A machine was acquired (state Acquired).
    Machine(String),
    /// Nothing, no error: request a job; the machine comes in Use (on demand).
    Nothing,
    /// `no free machines that can process builds`: no job request this cycle.
    NoFreeMachines,
    /// Any other error (a listing error, missing Machine options): no job request.
    Error(String),
}

/// GitLab's answer to one job-request attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobResponse {
    /// A job (201).
    Job(JobId),
    /// No job (204), possibly after a long poll.
    NoJob,
    /// A retriable status (408, 429, 500, 502, 503, 504, ≥ 512), with the wait the server
    /// named (`Retry-After` / `RateLimit-ResetTime`), if any (spec §0 M3, M4).
    Retriable {
        /// HTTP status.
        status: u16,
        /// Server-named wait.
        retry_after: Option<SimDuration>,
    },
    /// 403 or a transport error: counts toward the health rule (spec §0 M6).
    Failure {
        /// HTTP status, `None` for a transport error.
        status: Option<u16>,
    },
}

/// The provider's answer to Use (spec §3.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UseOutcome {
    /// The build has a machine. `new_data` is true when Use obtained it itself (on demand or
    /// find-existing), so the executor's Cleanup releases it.
    Ready {
        /// The machine the job runs on (`None` for executors without machines).
        machine: Option<String>,
        /// Whether Use returned new data (released by Cleanup).
        new_data: bool,
    },
    /// Preparation failed (an infrastructure error: retried, W9).
    Failed(String),
    /// Use succeeded — the machine is Used and its UsedCount raised (§3.6 step 5) — and a
    /// later preparation step failed (spec §3.6 last paragraph), e.g. the docker executor's
    /// image pull. The executor's Cleanup releases `machine` when `new_data` (§3.6 step 3,
    /// §3.11; W6: it may be picked again). `retriable`: an infrastructure error, retried with
    /// the same Acquire data after 3 s (W9) — the machine from Acquire is Used now, so the
    /// retry's Use takes another one (quirk Q18); otherwise a build error, not retried: the
    /// job fails at once.
    FailedAfterUse {
        /// The machine Use returned (`None` for executors without machines).
        machine: Option<String>,
        /// Whether Use returned new data (released by Cleanup).
        new_data: bool,
        /// GitLab Runner's error message.
        error: String,
        /// Whether preparation retries it (infrastructure error) or not (build error).
        retriable: bool,
    },
}

/// Why the manager failed a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureReason {
    /// Preparation failed 3 times (spec §3.6), or a preparation step failed with a build
    /// error GitLab Runner reports as a system failure (an image pull failure: the runner's
    /// own `image_pull_failure` reason is sent to GitLab as `runner_system_failure`).
    RunnerSystemFailure,
    /// Aborted by SIGTERM/SIGINT (spec §4.1, §0 W8).
    RunnerInterrupted,
}

impl FailureReason {
    /// GitLab's failure-reason string.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::RunnerSystemFailure => "runner_system_failure",
            FailureReason::RunnerInterrupted => "runner_interrupted",
        }
    }
}

/// An input to the manager, stamped with `now` by [`Manager::handle`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// The provider answered the worker's Acquire.
    AcquireDone {
        /// The worker that asked.
        worker: WorkerId,
        /// The answer.
        outcome: AcquireOutcome,
    },
    /// GitLab answered the worker's job request attempt.
    JobResponse {
        /// The worker that asked.
        worker: WorkerId,
        /// The answer.
        response: JobResponse,
    },
    /// The provider answered the worker's Use.
    UseDone {
        /// The worker that asked.
        worker: WorkerId,
        /// The answer.
        outcome: UseOutcome,
    },
    /// The job running on the worker finished.
    JobDone {
        /// The worker running it.
        worker: WorkerId,
    },
    /// The process received a signal (spec §4.1).
    Signal(Signal),
    /// The provider's Shutdown (drain) returned.
    ProviderShutdownDone,
}

/// Something the driver must do for the manager.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Call provider Acquire for `runner`; answer with [`Input::AcquireDone`].
    Acquire {
        /// The worker.
        worker: WorkerId,
        /// The runner.
        runner: RunnerIdx,
    },
    /// Send a job request for `runner` (attempt 1…5); answer with [`Input::JobResponse`].
    /// The acquired machine, if any, stays Acquired meanwhile.
    RequestJob {
        /// The worker.
        worker: WorkerId,
        /// The runner.
        runner: RunnerIdx,
        /// Attempt number, from 1.
        attempt: u32,
    },
    /// Call provider Use for `job` with the data from Acquire; answer with [`Input::UseDone`].
    Use {
        /// The worker.
        worker: WorkerId,
        /// The runner.
        runner: RunnerIdx,
        /// The job being prepared.
        job: JobId,
        /// The machine from Acquire, if any.
        acquired: Option<String>,
        /// Preparation attempt, from 1.
        attempt: u32,
    },
    /// The job starts running now on `machine`; answer with [`Input::JobDone`] when it ends.
    RunJob {
        /// The worker.
        worker: WorkerId,
        /// The runner.
        runner: RunnerIdx,
        /// The job.
        job: JobId,
        /// The machine (`None` for executors without machines).
        machine: Option<String>,
    },
    /// Call provider Release for `machine` (spec §3.11).
    Release {
        /// The runner.
        runner: RunnerIdx,
        /// The machine.
        machine: String,
    },
    /// The job failed before running.
    JobFailed {
        /// The runner.
        runner: RunnerIdx,
        /// The job.
        job: JobId,
        /// GitLab's failure reason.
        reason: FailureReason,
        /// The last preparation error.
        message: String,
    },
    /// Cancel the worker's job request in flight (shutdown, spec §4.1): GitLab must not hand
    /// it a job any more. No answer is expected.
    CancelJobRequest {
        /// The worker.
        worker: WorkerId,
    },
    /// Abort the running job (SIGTERM/SIGINT, spec §4.1): it ends now, failed with
    /// `runner_interrupted` and the message `aborted: <signal>` (§0 W8). The worker's Cleanup
    /// and Release follow as separate actions.
    AbortJob {
        /// The worker.
        worker: WorkerId,
        /// The runner.
        runner: RunnerIdx,
        /// The job.
        job: JobId,
        /// `aborted: SIGTERM` or `aborted: SIGINT`.
        message: String,
    },
    /// All workers have stopped: run the provider's Shutdown (drain, spec §4.3) with this
    /// budget, then answer [`Input::ProviderShutdownDone`].
    ShutdownProvider {
        /// `shutdown_timeout`.
        budget: SimDuration,
    },
    /// The process exits now (spec §4.1): in-flight driver operations are cut off.
    Exit {
        /// Why: `graceful shutdown complete`, `shutdown_timeout expired`, `second signal`.
        reason: &'static str,
    },
    /// A decision worth recording (events.csv).
    Event {
        /// The runner concerned.
        runner: RunnerIdx,
        /// What happened, e.g. `limit reached`, `requeue dropped`.
        what: &'static str,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Acquiring,
    Requesting {
        acquired: Option<String>,
        attempt: u32,
        retried: bool,
    },
    RequestBackoff {
        acquired: Option<String>,
        attempt: u32,
        until: SimTime,
    },
    Preparing {
        job: JobId,
        acquired: Option<String>,
        attempt: u32,
    },
    PrepWait {
        job: JobId,
        acquired: Option<String>,
        attempt: u32,
        until: SimTime,
        last_error: String,
    },
    Running {
        job: JobId,
        acquired: Option<String>,
        used: Option<String>,
        new_data: bool,
    },
    /// A forceful shutdown aborted the job while Use was in flight: release what Use returns.
    AbortingPrep {
        acquired: Option<String>,
    },
}

#[derive(Clone, Debug)]
struct Worker {
    runner: RunnerIdx,
    phase: Phase,
}

#[derive(Clone, Debug)]
struct RunnerState {
    builds: i64,
    requests: i64,
    adaptive: AdaptiveConcurrency,
    failures: u32,
    unhealthy_until: Option<SimTime>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Feeder {
    NotStarted,
    Sleeping {
        until: SimTime,
    },
    Waiting,
    /// Stopped by a signal (spec §4.1): hands out no more runners.
    Stopped,
}

/// The runner-manager process model. See the module docs.
#[derive(Debug)]
pub struct Manager {
    settings: ManagerSettings,
    workers: Vec<Worker>,
    runners: Vec<RunnerState>,
    feeder: Feeder,
    next_runner: usize,
    actions: std::collections::VecDeque<Action>,
    jitter: SimRng,
    stopping: Option<shutdown::Stopping>,
    /// A deliberate defect for the invariant checker's tests (see [`Manager::with_sabotage`]).
    sabotage: Sabotage,
}

impl Manager {
    /// A manager for `settings`; `jitter` is the seeded stream for job-request backoff jitter.
    pub fn new(settings: ManagerSettings, jitter: SimRng) -> Self {
        let workers = (0..settings.concurrent.max(1))
            .map(|_| Worker {
                runner: 0,
                phase: Phase::Idle,
            })
            .collect();
        let runners = settings
            .runners
            .iter()
            .map(|r| RunnerState {
                builds: 0,
                requests: 0,
                adaptive: AdaptiveConcurrency::new(r.request_concurrency),
                failures: 0,
                unhealthy_until: None,
            })
            .collect();
        Manager {
            settings,
            workers,
            runners,
            feeder: Feeder::NotStarted,
            next_runner: 0,
            actions: Default::default(),
            jitter,
            stopping: None,
            sabotage: Sabotage::None,
        }
    }

    /// Breaks the manager on purpose, to prove that the simulator's invariant checker can
    /// fail (issue "Invariants…": "a test-only switch that breaks the logic"). Only the
    /// manager variants of [`Sabotage`] act here; never use it outside tests.
    #[doc(hidden)]
    pub fn with_sabotage(mut self, sabotage: Sabotage) -> Self {
        self.sabotage = sabotage;
        if sabotage == Sabotage::IgnoreConcurrent {
            let extra = self.workers.len();
            self.workers.extend((0..extra).map(|_| Worker {
                runner: 0,
                phase: Phase::Idle,
            }));
        }
        self
    }

    /// The settings.
    pub fn settings(&self) -> &ManagerSettings {
        &self.settings
    }

    /// Starts the feeder at `now` (the process starts).
    pub fn start(&mut self, now: SimTime) {
        if self.feeder == Feeder::NotStarted {
            self.feeder = Feeder::Sleeping { until: now };
            self.handle_timeout(now);
        }
    }

    /// The feeder's sleep between two runners: `check_interval / N` over all `[[runners]]`
    /// entries (spec §0 M5), in whole milliseconds (truncated, at least 1 ms).
    pub fn feed_interval(&self) -> SimDuration {
        let n = self.settings.runners.len().max(1) as u64;
        SimDuration::from_millis((self.settings.check_interval.as_millis() / n).max(1))
    }

    /// The next action to execute, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The earliest instant at which [`Manager::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<SimTime> {
        if self.has_exited() {
            return None;
        }
        let mut t = match self.feeder {
            Feeder::Sleeping { until } if !self.settings.runners.is_empty() => Some(until),
            _ => None,
        };
        for w in &self.workers {
            let u = match &w.phase {
                Phase::RequestBackoff { until, .. } | Phase::PrepWait { until, .. } => Some(*until),
                _ => None,
            };
            t = match (t, u) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        match (t, self.forceful_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Number of workers not serving a runner.
    pub fn idle_workers(&self) -> usize {
        self.workers
            .iter()
            .filter(|w| w.phase == Phase::Idle)
            .count()
    }

    /// Jobs running or being prepared for runner `r` (its build slots in use).
    pub fn builds(&self, r: RunnerIdx) -> i64 {
        self.runners.get(r).map_or(0, |s| s.builds)
    }

    /// Runs what is due at `now`: feeder wake-ups, backoffs, preparation retries.
    pub fn handle_timeout(&mut self, now: SimTime) {
        if self.has_exited() {
            return;
        }
        self.shutdown_timeout_due(now);
        for w in 0..self.workers.len() {
            match self.workers[w].phase.clone() {
                Phase::RequestBackoff {
                    acquired,
                    attempt,
                    until,
                } if until <= now => {
                    let runner = self.workers[w].runner;
                    self.workers[w].phase = Phase::Requesting {
                        acquired,
                        attempt,
                        retried: true,
                    };
                    self.actions.push_back(Action::RequestJob {
                        worker: w,
                        runner,
                        attempt,
                    });
                }
                Phase::PrepWait {
                    job,
                    acquired,
                    attempt,
                    until,
                    last_error,
                } if until <= now => {
                    let runner = self.workers[w].runner;
                    if attempt >= PREPARATION_ATTEMPTS {
                        self.actions.push_back(Action::JobFailed {
                            runner,
                            job,
                            reason: FailureReason::RunnerSystemFailure,
                            message: last_error,
                        });
                        self.finish_cycle(w, acquired, now);
                    } else {
                        let attempt = attempt + 1;
                        self.workers[w].phase = Phase::Preparing {
                            job,
                            acquired: acquired.clone(),
                            attempt,
                        };
                        self.actions.push_back(Action::Use {
                            worker: w,
                            runner,
                            job,
                            acquired,
                            attempt,
                        });
                    }
                }
                _ => {}
            }
        }
        if let Feeder::Sleeping { until } = self.feeder
            && until <= now
        {
            self.feed(now);
        }
    }

    /// Handles an input at `now`.
    pub fn handle(&mut self, now: SimTime, input: Input) {
        if self.has_exited() {
            return;
        }
        match input {
            Input::AcquireDone { worker, outcome } => self.on_acquire(now, worker, outcome),
            Input::JobResponse { worker, response } => self.on_job_response(now, worker, response),
            Input::UseDone { worker, outcome } => self.on_use(now, worker, outcome),
            Input::JobDone { worker } => self.on_job_done(now, worker),
            Input::Signal(signal) => self.on_signal(now, signal),
            Input::ProviderShutdownDone => self.on_provider_shutdown_done(now),
        }
    }

    /// The feeder hands the next runner to a free worker, or blocks until one is free.
    fn feed(&mut self, now: SimTime) {
        if self.settings.runners.is_empty() {
            return;
        }
        let r = self.next_runner;
        let skipped = self.runners[r].unhealthy_until.is_some_and(|u| now < u);
        if !skipped {
            let Some(w) = self.idle_worker() else {
                self.feeder = Feeder::Waiting;
                return;
            };
            self.start_cycle(now, w, r);
        } else {
            self.actions.push_back(Action::Event {
                runner: r,
                what: "runner unhealthy: skipped",
            });
        }
        self.next_runner = (r + 1) % self.settings.runners.len();
        self.feeder = Feeder::Sleeping {
            until: now + self.feed_interval(),
        };
    }

    fn idle_worker(&self) -> Option<WorkerId> {
        self.workers.iter().position(|w| w.phase == Phase::Idle)
    }

    /// processRunner: build slot → request slot → Acquire.
    fn start_cycle(&mut self, now: SimTime, w: WorkerId, r: RunnerIdx) {
        let limit = self.settings.runners[r].limit;
        let st = &mut self.runners[r];
        if limit > 0 && st.builds >= limit && self.sabotage != Sabotage::IgnoreRunnerLimit {
            self.actions.push_back(Action::Event {
                runner: r,
                what: "limit reached: no Acquire",
            });
            return;
        }
        if st.requests >= st.adaptive.effective() {
            self.actions.push_back(Action::Event {
                runner: r,
                what: "request slots busy: no Acquire",
            });
            return;
        }
        st.builds += 1;
        st.requests += 1;
        self.workers[w] = Worker {
            runner: r,
            phase: Phase::Acquiring,
        };
        self.actions.push_back(Action::Acquire {
            worker: w,
            runner: r,
        });
        let _ = now;
    }

    fn release_request(&mut self, r: RunnerIdx, result: RequestResult) {
        let st = &mut self.runners[r];
        st.requests -= 1;
        st.adaptive.record(result);
    }

    /// Ends a worker's cycle: Release of the acquired machine (deferred in Go), build slot
    /// released, worker idle, and a blocked feeder served.
    fn finish_cycle(&mut self, w: WorkerId, acquired: Option<String>, now: SimTime) {
        let r = self.workers[w].runner;
        if let Some(m) = acquired {
            self.actions.push_back(Action::Release {
                runner: r,
                machine: m,
            });
        }
        self.runners[r].builds -= 1;
        self.workers[w].phase = Phase::Idle;
        if self.feeder == Feeder::Waiting {
            self.feed(now);
        }
        if self.stopping.is_some() {
            self.check_stopped(now);
        }
    }

    fn on_acquire(&mut self, now: SimTime, w: WorkerId, outcome: AcquireOutcome) {
        if self.workers.get(w).map(|x| &x.phase) != Some(&Phase::Acquiring) {
            return;
        }
        let r = self.workers[w].runner;
        if self.stopping.is_some() && self.sabotage != Sabotage::KeepRequestingAfterStop {
            // M17: the Acquire ran, but its job request is cancelled at once.
            let acquired = match outcome {
                AcquireOutcome::Machine(m) => Some(m),
                _ => None,
            };
            self.release_request(r, RequestResult::NoJob);
            self.finish_cycle(w, acquired, now);
            return;
        }
        match outcome {
            AcquireOutcome::Machine(m) => {
                self.workers[w].phase = Phase::Requesting {
                    acquired: Some(m),
                    attempt: 1,
                    retried: false,
                };
                self.actions.push_back(Action::RequestJob {
                    worker: w,
                    runner: r,
                    attempt: 1,
                });
            }
            AcquireOutcome::Nothing => {
                self.workers[w].phase = Phase::Requesting {
                    acquired: None,
                    attempt: 1,
                    retried: false,
                };
                self.actions.push_back(Action::RequestJob {
                    worker: w,
                    runner: r,
                    attempt: 1,
                });
            }
            AcquireOutcome::NoFreeMachines | AcquireOutcome::Error(_) => {
                // A failed Acquire releases the request slot as "no job, not retried" (M3).
                self.release_request(r, RequestResult::NoJob);
                self.finish_cycle(w, None, now);
            }
        }
    }

    fn on_job_response(&mut self, now: SimTime, w: WorkerId, response: JobResponse) {
        let Some(Phase::Requesting {
            acquired,
            attempt,
            retried,
        }) = self.workers.get(w).map(|x| x.phase.clone())
        else {
            return;
        };
        let r = self.workers[w].runner;
        match response {
            JobResponse::Job(job) => {
                self.runners[r].failures = 0;
                self.release_request(
                    r,
                    if retried {
                        RequestResult::Retried
                    } else {
                        RequestResult::GotJob
                    },
                );
                self.workers[w].phase = Phase::Preparing {
                    job,
                    acquired: acquired.clone(),
                    attempt: 1,
                };
                self.actions.push_back(Action::Use {
                    worker: w,
                    runner: r,
                    job,
                    acquired,
                    attempt: 1,
                });
                if !self.settings.runners[r].strict_check_interval {
                    match self.idle_worker() {
                        Some(other) => self.start_cycle(now, other, r),
                        None => self.actions.push_back(Action::Event {
                            runner: r,
                            what: "requeue dropped: no idle worker",
                        }),
                    }
                }
            }
            JobResponse::NoJob => {
                self.runners[r].failures = 0;
                self.release_request(
                    r,
                    if retried {
                        RequestResult::Retried
                    } else {
                        RequestResult::NoJob
                    },
                );
                self.finish_cycle(w, acquired, now);
            }
            JobResponse::Retriable { retry_after, .. } if attempt < JOB_REQUEST_ATTEMPTS => {
                let wait = retry_after.unwrap_or_else(|| self.backoff(attempt));
                self.workers[w].phase = Phase::RequestBackoff {
                    acquired,
                    attempt: attempt + 1,
                    until: now + wait,
                };
            }
            JobResponse::Retriable { .. } => {
                self.release_request(r, RequestResult::Retried);
                self.finish_cycle(w, acquired, now);
            }
            JobResponse::Failure { .. } => {
                let st = &mut self.runners[r];
                st.failures += 1;
                if st.failures >= UNHEALTHY_AFTER_FAILURES {
                    st.unhealthy_until = Some(now + UNHEALTHY_SKIP);
                    self.actions.push_back(Action::Event {
                        runner: r,
                        what: "runner unhealthy for 60 min",
                    });
                }
                self.release_request(
                    r,
                    if retried {
                        RequestResult::Retried
                    } else {
                        RequestResult::NoJob
                    },
                );
                self.finish_cycle(w, acquired, now);
            }
        }
    }

    /// Backoff before attempt `attempt + 1`: 100 ms × 2^(attempt−1), at most 60 s, with a
    /// uniform jitter of ±50 % (the jitter's shape is not in the spec: simrun's choice).
    fn backoff(&mut self, attempt: u32) -> SimDuration {
        let base = JOB_REQUEST_BACKOFF_MIN
            .as_millis()
            .saturating_mul(1u64 << (attempt.saturating_sub(1)).min(20));
        let base = base.min(JOB_REQUEST_BACKOFF_MAX.as_millis());
        let jittered = self.jitter.random_range(base / 2..=base + base / 2);
        SimDuration::from_millis(jittered.min(JOB_REQUEST_BACKOFF_MAX.as_millis()))
    }

    fn on_use(&mut self, now: SimTime, w: WorkerId, outcome: UseOutcome) {
        if let Some(Phase::AbortingPrep { acquired }) = self.workers.get(w).map(|x| x.phase.clone())
        {
            // The build was aborted while Use ran: Cleanup releases what Use obtained.
            let r = self.workers[w].runner;
            if let UseOutcome::Ready {
                machine: Some(m),
                new_data: true,
            }
            | UseOutcome::FailedAfterUse {
                machine: Some(m),
                new_data: true,
                ..
            } = outcome
            {
                self.actions.push_back(Action::Release {
                    runner: r,
                    machine: m,
                });
            }
            self.finish_cycle(w, acquired, now);
            return;
        }
        let Some(Phase::Preparing {
            job,
            acquired,
            attempt,
        }) = self.workers.get(w).map(|x| x.phase.clone())
        else {
            return;
        };
        let r = self.workers[w].runner;
        match outcome {
            UseOutcome::Ready { machine, new_data } => {
                self.workers[w].phase = Phase::Running {
                    job,
                    acquired,
                    used: machine.clone(),
                    new_data,
                };
                if self.sabotage == Sabotage::StartJobTwice {
                    self.actions.push_back(Action::RunJob {
                        worker: w,
                        runner: r,
                        job,
                        machine: machine.clone(),
                    });
                }
                self.actions.push_back(Action::RunJob {
                    worker: w,
                    runner: r,
                    job,
                    machine,
                });
            }
            UseOutcome::Failed(e) => self.preparation_failed(now, w, job, acquired, attempt, e),
            UseOutcome::FailedAfterUse {
                machine,
                new_data,
                error,
                retriable,
            } => {
                // The executor's Cleanup releases what Use obtained itself (§3.6 step 3).
                if new_data && let Some(m) = machine {
                    self.actions.push_back(Action::Release {
                        runner: r,
                        machine: m,
                    });
                }
                if retriable {
                    self.preparation_failed(now, w, job, acquired, attempt, error);
                } else {
                    // A build error is not retried at all (W9).
                    self.actions.push_back(Action::JobFailed {
                        runner: r,
                        job,
                        reason: FailureReason::RunnerSystemFailure,
                        message: error,
                    });
                    self.finish_cycle(w, acquired, now);
                }
            }
        }
    }

    /// A failed preparation attempt (an infrastructure error): wait 3 s, then retry or give
    /// up (W9; [`Manager::handle_timeout`]).
    fn preparation_failed(
        &mut self,
        now: SimTime,
        w: WorkerId,
        job: JobId,
        acquired: Option<String>,
        attempt: u32,
        e: String,
    ) {
        let r = self.workers[w].runner;
        if self.sabotage == Sabotage::FailJobOnEveryPreparationAttempt
            && attempt < PREPARATION_ATTEMPTS
        {
            self.actions.push_back(Action::JobFailed {
                runner: r,
                job,
                reason: FailureReason::RunnerSystemFailure,
                message: e.clone(),
            });
        }
        self.workers[w].phase = Phase::PrepWait {
            job,
            acquired,
            attempt,
            until: now + PREPARATION_RETRY_WAIT,
            last_error: e,
        };
    }

    fn on_job_done(&mut self, now: SimTime, w: WorkerId) {
        let Some(Phase::Running {
            acquired,
            used,
            new_data,
            ..
        }) = self.workers.get(w).map(|x| x.phase.clone())
        else {
            return;
        };
        let r = self.workers[w].runner;
        // The executor's Cleanup releases what Use obtained itself; the worker's deferred
        // Release then releases the machine from Acquire (spec §3.6 step 3, §3.11).
        if new_data && let Some(m) = used {
            self.actions.push_back(Action::Release {
                runner: r,
                machine: m,
            });
        }
        self.finish_cycle(w, acquired, now);
    }
}

#[cfg(test)]
mod tests;
