//! Manager tests through its sans-IO interface with a small scripted world: Acquire answers
//! from a closure, GitLab hands out queued jobs, jobs run for fixed durations.

use std::collections::{BTreeMap, VecDeque};

use super::*;

fn settings(concurrent: usize, check_s: u64, runners: &[(i64, i64, bool)]) -> ManagerSettings {
    ManagerSettings {
        concurrent,
        check_interval: SimDuration::from_secs(check_s),
        runners: runners
            .iter()
            .enumerate()
            .map(|(i, (limit, rc, strict))| RunnerSettings {
                id: format!("r{i}"),
                limit: *limit,
                request_concurrency: *rc,
                strict_check_interval: *strict,
            })
            .collect(),
        shutdown_timeout: SimDuration::from_secs(30),
    }
}

/// A scripted world. Every action is answered at the same instant except jobs, which end
/// after `job_ms`.
struct World {
    m: Manager,
    now: SimTime,
    jobs: VecDeque<JobId>,
    job_ms: u64,
    acquire: Box<dyn FnMut(RunnerIdx) -> AcquireOutcome>,
    use_fails: u32,
    running: BTreeMap<SimTime, Vec<WorkerId>>,
    log: Vec<(u64, Action)>,
}

impl World {
    fn new(s: ManagerSettings, jobs: u64, job_ms: u64) -> Self {
        World {
            m: Manager::new(s, crate::random::RngStreams::new(1).stream("manager")),
            now: SimTime::ZERO,
            jobs: (1..=jobs).collect(),
            job_ms,
            acquire: Box::new(|_| AcquireOutcome::Nothing),
            use_fails: 0,
            running: BTreeMap::new(),
            log: Vec::new(),
        }
    }

    fn drain(&mut self) {
        while let Some(a) = self.m.poll_action() {
            self.log.push((self.now.as_millis(), a.clone()));
            let now = self.now;
            match a {
                Action::Acquire { worker, runner } => {
                    let outcome = (self.acquire)(runner);
                    self.m.handle(now, Input::AcquireDone { worker, outcome });
                }
                Action::RequestJob { worker, .. } => {
                    let response = self
                        .jobs
                        .pop_front()
                        .map_or(JobResponse::NoJob, JobResponse::Job);
                    self.m.handle(now, Input::JobResponse { worker, response });
                }
                Action::Use { worker, .. } => {
                    let outcome = if self.use_fails > 0 {
                        self.use_fails -= 1;
                        UseOutcome::Failed("Error creating machine".into())
                    } else {
                        UseOutcome::Ready {
                            machine: Some(format!("m{worker}")),
                            new_data: false,
                        }
                    };
                    self.m.handle(now, Input::UseDone { worker, outcome });
                }
                Action::RunJob { worker, .. } => {
                    self.running
                        .entry(now + SimDuration::from_millis(self.job_ms))
                        .or_default()
                        .push(worker);
                }
                _ => {}
            }
        }
    }

    /// Runs until `end` (ms), jumping from event to event.
    fn run_until(&mut self, end: u64) {
        self.m.start(self.now);
        self.drain();
        loop {
            let next_job = self.running.keys().next().copied();
            let next = match (self.m.poll_timeout(), next_job) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => break,
                },
            };
            if next.as_millis() > end {
                break;
            }
            self.now = next;
            if let Some(ws) = self.running.remove(&next) {
                for w in ws {
                    self.m.handle(next, Input::JobDone { worker: w });
                }
            }
            self.m.handle_timeout(next);
            self.drain();
        }
    }

    fn times(&self, pred: impl Fn(&Action) -> bool) -> Vec<u64> {
        self.log
            .iter()
            .filter(|(_, a)| pred(a))
            .map(|(t, _)| *t)
            .collect()
    }
}

#[test]
fn feeder_feeds_each_runner_once_per_check_interval() {
    // Two runners, check_interval 3 s: runner 0 at 0, 3, 6 s; runner 1 at 1.5, 4.5 s (M5).
    let mut w = World::new(settings(4, 3, &[(0, 1, false), (0, 1, false)]), 0, 1000);
    w.run_until(7000);
    let r0 = w.times(|a| matches!(a, Action::Acquire { runner: 0, .. }));
    let r1 = w.times(|a| matches!(a, Action::Acquire { runner: 1, .. }));
    assert_eq!(r0, vec![0, 3000, 6000]);
    assert_eq!(r1, vec![1500, 4500]);
}

#[test]
fn feed_interval_divides_by_all_runners_including_other_executors() {
    let m = Manager::new(
        settings(1, 3, &[(0, 1, false), (0, 1, false), (0, 1, false)]),
        crate::random::RngStreams::new(0).stream("manager"),
    );
    assert_eq!(m.feed_interval(), SimDuration::from_millis(1000));
}

#[test]
fn no_free_machines_means_no_job_request() {
    let mut w = World::new(settings(2, 3, &[(0, 1, false)]), 5, 1000);
    w.acquire = Box::new(|_| AcquireOutcome::NoFreeMachines);
    w.run_until(10_000);
    assert_eq!(w.times(|a| matches!(a, Action::Acquire { .. })).len(), 4);
    assert!(
        w.times(|a| matches!(a, Action::RequestJob { .. }))
            .is_empty()
    );
    assert_eq!(w.jobs.len(), 5);
}

#[test]
fn acquired_machine_is_released_when_no_job_comes() {
    let mut w = World::new(settings(1, 3, &[(0, 1, false)]), 0, 1000);
    w.acquire = Box::new(|_| AcquireOutcome::Machine("idle-1".into()));
    w.run_until(0);
    let releases: Vec<&Action> = w
        .log
        .iter()
        .map(|(_, a)| a)
        .filter(|a| matches!(a, Action::Release { .. }))
        .collect();
    assert_eq!(
        releases,
        vec![&Action::Release {
            runner: 0,
            machine: "idle-1".into()
        }]
    );
}

#[test]
fn a_received_job_requeues_the_runner_at_once_unless_strict() {
    // Job received at 0 → the runner is requeued on the idle second worker at the same
    // instant, which takes the second job; with strict_check_interval the second job waits
    // for the next feed at 3 s.
    let mut w = World::new(settings(3, 3, &[(0, 4, false)]), 2, 10_000);
    w.run_until(100);
    assert_eq!(w.times(|a| matches!(a, Action::RunJob { .. })), vec![0, 0]);
    let mut s = World::new(settings(3, 3, &[(0, 4, true)]), 2, 10_000);
    s.run_until(3100);
    assert_eq!(
        s.times(|a| matches!(a, Action::RunJob { .. })),
        vec![0, 3000]
    );
}

#[test]
fn requeue_is_dropped_without_an_idle_worker() {
    let mut w = World::new(settings(1, 3, &[(0, 1, false)]), 2, 10_000);
    w.run_until(100);
    assert!(w.log.iter().any(|(_, a)| matches!(
        a,
        Action::Event {
            what: "requeue dropped: no idle worker",
            ..
        }
    )));
}

#[test]
fn concurrent_caps_running_jobs_and_blocks_the_feeder() {
    // concurrent = 1: one job at a time; the feeder blocks while the worker runs a job, and
    // resumes the moment it frees up (job ends at 10 s, next cycle at 10 s, not 12 s).
    let mut w = World::new(settings(1, 3, &[(0, 1, true)]), 3, 10_000);
    w.run_until(25_000);
    assert_eq!(
        w.times(|a| matches!(a, Action::RunJob { .. })),
        vec![0, 10_000, 20_000]
    );
}

#[test]
fn limit_caps_cycles_before_acquire() {
    // limit 1: while a job runs, feeds of the runner end before Acquire (M2).
    let mut w = World::new(settings(4, 3, &[(1, 1, false)]), 3, 10_000);
    w.run_until(9_000);
    assert_eq!(w.times(|a| matches!(a, Action::Acquire { .. })), vec![0]);
    assert!(w.log.iter().any(|(t, a)| *t == 3000
        && matches!(
            a,
            Action::Event {
                what: "limit reached: no Acquire",
                ..
            }
        )));
}

#[test]
fn preparation_is_tried_three_times_three_seconds_apart() {
    // Use fails every time: attempts at 0, 3, 6 s; after the third failure the build waits
    // 3 s more (W9) and the job fails with runner_system_failure at 9 s.
    let mut w = World::new(settings(1, 3, &[(0, 1, true)]), 1, 1000);
    w.use_fails = 3;
    w.run_until(9_500);
    assert_eq!(
        w.times(|a| matches!(a, Action::Use { .. })),
        vec![0, 3000, 6000]
    );
    let failed: Vec<&(u64, Action)> = w
        .log
        .iter()
        .filter(|(_, a)| matches!(a, Action::JobFailed { .. }))
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, 9000);
    assert!(matches!(
        failed[0].1,
        Action::JobFailed {
            reason: FailureReason::RunnerSystemFailure,
            job: 1,
            ..
        }
    ));
}

#[test]
fn preparation_succeeding_on_the_second_attempt_runs_the_job() {
    let mut w = World::new(settings(1, 3, &[(0, 1, true)]), 1, 1000);
    w.use_fails = 1;
    w.run_until(10_000);
    assert_eq!(w.times(|a| matches!(a, Action::RunJob { .. })), vec![3000]);
    assert!(
        w.times(|a| matches!(a, Action::JobFailed { .. }))
            .is_empty()
    );
}

#[test]
fn retriable_responses_back_off_and_hold_the_slots() {
    let mut m = Manager::new(
        settings(1, 3, &[(0, 1, false)]),
        crate::random::RngStreams::new(7).stream("manager"),
    );
    m.start(SimTime::ZERO);
    assert_eq!(
        m.poll_action(),
        Some(Action::Acquire {
            worker: 0,
            runner: 0
        })
    );
    m.handle(
        SimTime::ZERO,
        Input::AcquireDone {
            worker: 0,
            outcome: AcquireOutcome::Machine("a".into()),
        },
    );
    assert_eq!(
        m.poll_action(),
        Some(Action::RequestJob {
            worker: 0,
            runner: 0,
            attempt: 1
        })
    );
    let mut now = SimTime::ZERO;
    for attempt in 1..JOB_REQUEST_ATTEMPTS {
        m.handle(
            now,
            Input::JobResponse {
                worker: 0,
                response: JobResponse::Retriable {
                    status: 503,
                    retry_after: None,
                },
            },
        );
        let t = m.poll_timeout().unwrap();
        let base = 100u64 << (attempt - 1);
        let waited = t.since(now).as_millis();
        assert!(
            waited >= base / 2 && waited <= base + base / 2,
            "attempt {attempt}: waited {waited} ms"
        );
        now = t;
        m.handle_timeout(now);
        assert_eq!(
            m.poll_action(),
            Some(Action::RequestJob {
                worker: 0,
                runner: 0,
                attempt: attempt + 1
            })
        );
        assert_eq!(m.idle_workers(), 0, "the worker stays held during backoff");
    }
    m.handle(
        now,
        Input::JobResponse {
            worker: 0,
            response: JobResponse::Retriable {
                status: 503,
                retry_after: None,
            },
        },
    );
    assert_eq!(
        m.poll_action(),
        Some(Action::Release {
            runner: 0,
            machine: "a".into()
        })
    );
    assert_eq!(m.idle_workers(), 1);
}

#[test]
fn three_failed_requests_make_the_runner_unhealthy_for_an_hour() {
    let mut m = Manager::new(
        settings(1, 3, &[(0, 1, false)]),
        crate::random::RngStreams::new(7).stream("manager"),
    );
    m.start(SimTime::ZERO);
    let mut now = SimTime::ZERO;
    let mut requests = Vec::new();
    while now.as_millis() < 2 * 3_600_000 {
        while let Some(a) = m.poll_action() {
            match a {
                Action::Acquire { worker, .. } => m.handle(
                    now,
                    Input::AcquireDone {
                        worker,
                        outcome: AcquireOutcome::Nothing,
                    },
                ),
                Action::RequestJob { worker, .. } => {
                    requests.push(now.as_millis());
                    m.handle(
                        now,
                        Input::JobResponse {
                            worker,
                            response: JobResponse::Failure { status: Some(403) },
                        },
                    );
                }
                _ => {}
            }
        }
        now = m.poll_timeout().unwrap();
        m.handle_timeout(now);
    }
    // Requests at 0, 3, 6 s; then skipped for 60 min from 6 s; one forced request at
    // 3606 s (the first feed after the hour), which fails again; skipped until 7206 s.
    assert_eq!(requests, vec![0, 3000, 6000, 3_606_000]);
}

fn actions(m: &mut Manager) -> Vec<Action> {
    std::iter::from_fn(|| m.poll_action()).collect()
}

/// A manager with one worker running job 7 on machine "m" (acquired by Acquire, fast path).
fn running_one_job() -> Manager {
    let mut m = Manager::new(
        settings(2, 3, &[(0, 1, true)]),
        crate::random::RngStreams::new(1).stream("manager"),
    );
    m.start(SimTime::ZERO);
    let t = SimTime::ZERO;
    assert_eq!(
        m.poll_action(),
        Some(Action::Acquire {
            worker: 0,
            runner: 0
        })
    );
    m.handle(
        t,
        Input::AcquireDone {
            worker: 0,
            outcome: AcquireOutcome::Machine("m".into()),
        },
    );
    assert!(matches!(
        m.poll_action(),
        Some(Action::RequestJob { worker: 0, .. })
    ));
    m.handle(
        t,
        Input::JobResponse {
            worker: 0,
            response: JobResponse::Job(7),
        },
    );
    assert!(matches!(
        m.poll_action(),
        Some(Action::Use {
            worker: 0,
            job: 7,
            ..
        })
    ));
    m.handle(
        t,
        Input::UseDone {
            worker: 0,
            outcome: UseOutcome::Ready {
                machine: Some("m".into()),
                new_data: false,
            },
        },
    );
    assert!(matches!(
        m.poll_action(),
        Some(Action::RunJob {
            worker: 0,
            job: 7,
            ..
        })
    ));
    assert_eq!(m.poll_action(), None);
    m
}

#[test]
fn sigquit_lets_running_jobs_finish_then_shuts_the_provider_down() {
    let mut m = running_one_job();
    let t = SimTime(10_000);
    m.handle(t, Input::Signal(Signal::Quit));
    assert!(
        actions(&mut m).is_empty(),
        "nothing to cancel, the job keeps running"
    );
    m.handle_timeout(SimTime(12_000));
    assert!(
        actions(&mut m).is_empty(),
        "the feeder has stopped: no Acquire"
    );
    m.handle(SimTime(60_000), Input::Signal(Signal::Quit));
    assert!(
        actions(&mut m).is_empty(),
        "a second SIGQUIT keeps it graceful"
    );
    m.handle(SimTime(90_000), Input::JobDone { worker: 0 });
    assert_eq!(
        actions(&mut m),
        vec![
            Action::Release {
                runner: 0,
                machine: "m".into()
            },
            Action::ShutdownProvider {
                budget: SimDuration::from_secs(30)
            }
        ]
    );
    m.handle(SimTime(95_000), Input::ProviderShutdownDone);
    assert_eq!(
        actions(&mut m),
        vec![Action::Exit {
            reason: "shutdown complete"
        }]
    );
    assert!(m.has_exited());
    assert_eq!(m.poll_timeout(), None);
}

#[test]
fn sigterm_aborts_builds_and_exits_at_shutdown_timeout() {
    let mut m = running_one_job();
    let t = SimTime(10_000);
    m.handle(t, Input::Signal(Signal::Term));
    assert_eq!(
        actions(&mut m),
        vec![
            Action::AbortJob {
                worker: 0,
                runner: 0,
                job: 7,
                message: "aborted: SIGTERM".into()
            },
            Action::Release {
                runner: 0,
                machine: "m".into()
            },
            Action::ShutdownProvider {
                budget: SimDuration::from_secs(30)
            }
        ]
    );
    // The drain does not return in time: the process exits 30 s after the signal.
    assert_eq!(m.poll_timeout(), Some(SimTime(40_000)));
    m.handle_timeout(SimTime(40_000));
    assert_eq!(
        actions(&mut m),
        vec![Action::Exit {
            reason: "shutdown_timeout expired"
        }]
    );
}

#[test]
fn a_second_forceful_signal_exits_at_once_and_sigterm_upgrades_sigquit() {
    let mut m = running_one_job();
    m.handle(SimTime(1000), Input::Signal(Signal::Quit));
    m.handle(SimTime(2000), Input::Signal(Signal::Int));
    let a = actions(&mut m);
    assert!(
        a.contains(&Action::AbortJob {
            worker: 0,
            runner: 0,
            job: 7,
            message: "aborted: SIGINT".into()
        }),
        "{a:?}"
    );
    m.handle(SimTime(3000), Input::Signal(Signal::Term));
    assert_eq!(
        actions(&mut m),
        vec![Action::Exit {
            reason: "second signal"
        }]
    );
}

#[test]
fn signal_cancels_job_requests_and_acquires_in_flight_m17() {
    let mut m = Manager::new(
        settings(2, 3, &[(0, 1, false), (0, 1, false)]),
        crate::random::RngStreams::new(1).stream("manager"),
    );
    m.start(SimTime::ZERO);
    assert_eq!(
        m.poll_action(),
        Some(Action::Acquire {
            worker: 0,
            runner: 0
        })
    );
    m.handle(
        SimTime::ZERO,
        Input::AcquireDone {
            worker: 0,
            outcome: AcquireOutcome::Machine("a".into()),
        },
    );
    assert!(matches!(
        m.poll_action(),
        Some(Action::RequestJob { worker: 0, .. })
    ));
    m.handle_timeout(SimTime(1500));
    assert_eq!(
        m.poll_action(),
        Some(Action::Acquire {
            worker: 1,
            runner: 1
        })
    );
    // SIGQUIT while worker 0 waits for a job and worker 1 waits for its Acquire.
    m.handle(SimTime(2000), Input::Signal(Signal::Quit));
    assert_eq!(
        actions(&mut m),
        vec![
            Action::CancelJobRequest { worker: 0 },
            Action::Release {
                runner: 0,
                machine: "a".into()
            }
        ]
    );
    // M17: the Acquire still answers (it may have started creations); no job request follows.
    m.handle(
        SimTime(2500),
        Input::AcquireDone {
            worker: 1,
            outcome: AcquireOutcome::Machine("b".into()),
        },
    );
    assert_eq!(
        actions(&mut m),
        vec![
            Action::Release {
                runner: 1,
                machine: "b".into()
            },
            Action::ShutdownProvider {
                budget: SimDuration::from_secs(30)
            }
        ]
    );
}

/// Runs one worker up to its first Use: Acquire gives machine "a", GitLab job 7.
fn preparing_job_7_on_acquired_a() -> Manager {
    let mut m = Manager::new(
        settings(1, 3, &[(0, 1, true)]),
        crate::random::RngStreams::new(1).stream("manager"),
    );
    m.start(SimTime::ZERO);
    let t = SimTime::ZERO;
    assert!(matches!(m.poll_action(), Some(Action::Acquire { .. })));
    m.handle(
        t,
        Input::AcquireDone {
            worker: 0,
            outcome: AcquireOutcome::Machine("a".into()),
        },
    );
    assert!(matches!(m.poll_action(), Some(Action::RequestJob { .. })));
    m.handle(
        t,
        Input::JobResponse {
            worker: 0,
            response: JobResponse::Job(7),
        },
    );
    assert_eq!(
        m.poll_action(),
        Some(Action::Use {
            worker: 0,
            runner: 0,
            job: 7,
            acquired: Some("a".into()),
            attempt: 1,
        })
    );
    m
}

fn failed_after_use(machine: &str, new_data: bool, retriable: bool) -> Input {
    Input::UseDone {
        worker: 0,
        outcome: UseOutcome::FailedAfterUse {
            machine: Some(machine.into()),
            new_data,
            error: "failed to pull image".into(),
            retriable,
        },
    }
}

#[test]
fn a_retried_failure_after_use_retries_with_the_same_acquire_data_q18() {
    // Spec §3.6 last paragraph, W6, W9, Q18: attempt 1 used the machine from Acquire ("a",
    // fast path, no new data) and failed after Use; attempts 2 and 3 come 3 s apart with the
    // same Acquire data ("a"); their Use returned "b" as new data, which Cleanup releases
    // each time. After the third failure and its 3 s wait the job fails with
    // runner_system_failure; only then the deferred Release of "a".
    let mut m = preparing_job_7_on_acquired_a();
    m.handle(SimTime::ZERO, failed_after_use("a", false, true));
    assert_eq!(actions(&mut m), vec![]);
    assert_eq!(m.poll_timeout(), Some(SimTime(3000)));
    for (at, attempt) in [(3000, 2), (6000, 3)] {
        m.handle_timeout(SimTime(at));
        assert_eq!(
            actions(&mut m),
            vec![Action::Use {
                worker: 0,
                runner: 0,
                job: 7,
                acquired: Some("a".into()),
                attempt,
            }]
        );
        m.handle(SimTime(at), failed_after_use("b", true, true));
        assert_eq!(
            actions(&mut m),
            vec![Action::Release {
                runner: 0,
                machine: "b".into()
            }]
        );
        assert_eq!(m.builds(0), 1);
    }
    m.handle_timeout(SimTime(8999));
    assert_eq!(actions(&mut m), vec![]);
    m.handle_timeout(SimTime(9000));
    let a = actions(&mut m);
    assert_eq!(
        a[..2],
        [
            Action::JobFailed {
                runner: 0,
                job: 7,
                reason: FailureReason::RunnerSystemFailure,
                message: "failed to pull image".into(),
            },
            Action::Release {
                runner: 0,
                machine: "a".into()
            },
        ]
    );
    // The freed worker serves the blocked feeder: a new cycle, not another Use.
    assert!(!a.iter().any(|x| matches!(x, Action::Use { .. })));
}

#[test]
fn a_build_error_after_use_is_not_retried() {
    // W9: a build error fails the job at once, no 3 s wait, no second Use; the machine from
    // Acquire goes back through the deferred Release.
    let mut m = preparing_job_7_on_acquired_a();
    m.handle(SimTime::ZERO, failed_after_use("a", false, false));
    let a = actions(&mut m);
    assert_eq!(
        a[..2],
        [
            Action::JobFailed {
                runner: 0,
                job: 7,
                reason: FailureReason::RunnerSystemFailure,
                message: "failed to pull image".into(),
            },
            Action::Release {
                runner: 0,
                machine: "a".into()
            },
        ]
    );
    assert_eq!(m.builds(0), 0);
    m.handle_timeout(SimTime(3000));
    assert!(
        !actions(&mut m)
            .iter()
            .any(|x| matches!(x, Action::Use { .. }))
    );
}
