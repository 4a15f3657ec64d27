//! Signals and process shutdown (spec §4.1, §4.4, §0 W8, M17, quirk Q20).
//!
//! * **SIGQUIT** (graceful): the feeder stops, job requests in flight are cancelled (their
//!   Acquired machines are released → Idle), running jobs run to completion with no time
//!   limit. When every worker has stopped, the provider's Shutdown runs with a
//!   `shutdown_timeout` budget ([`Action::ShutdownProvider`]); when it returns, the process
//!   exits. Another SIGQUIT keeps it graceful; SIGTERM/SIGINT switch to forceful.
//! * **SIGTERM / SIGINT** (forceful): the same, plus every running build is aborted
//!   (`runner_interrupted`, message `aborted: <signal>`); Cleanup and Release still run. The
//!   process waits at most `shutdown_timeout` from the start of forceful handling for
//!   everything, provider Shutdown included, then exits even if the drain is unfinished. A
//!   second forceful signal exits at once.
//! * A worker whose Acquire is in flight when the signal arrives still gets its answer; its
//!   job request is then cancelled at once (M17: the Acquire may have started creations).

use crate::time::{SimDuration, SimTime};

use super::adaptive::RequestResult;
use super::{Action, FailureReason, Feeder, Manager, Phase};

/// A signal to the runner process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
pub enum Signal {
    /// Graceful shutdown.
    #[serde(rename = "SIGQUIT")]
    Quit,
    /// Forceful shutdown.
    #[serde(rename = "SIGTERM")]
    Term,
    /// Forceful shutdown (like SIGTERM).
    #[serde(rename = "SIGINT")]
    Int,
}

impl Signal {
    /// `SIGQUIT`, `SIGTERM`, `SIGINT`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Quit => "SIGQUIT",
            Signal::Term => "SIGTERM",
            Signal::Int => "SIGINT",
        }
    }

    fn forceful(self) -> bool {
        self != Signal::Quit
    }
}

/// Where a stopping process stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stopping {
    /// Set once forceful handling started: the process exits at this instant at the latest.
    forceful_deadline: Option<SimTime>,
    /// The provider's Shutdown has been requested.
    provider_requested: bool,
    /// The process has exited.
    exited: bool,
}

impl Manager {
    /// Whether the process has exited (no more actions or timers).
    pub fn has_exited(&self) -> bool {
        self.stopping.is_some_and(|s| s.exited)
    }

    /// Whether a signal has stopped the feeder.
    pub fn is_stopping(&self) -> bool {
        self.stopping.is_some()
    }

    pub(super) fn forceful_deadline(&self) -> Option<SimTime> {
        self.stopping
            .filter(|s| !s.exited)
            .and_then(|s| s.forceful_deadline)
    }

    pub(super) fn on_signal(&mut self, now: SimTime, signal: Signal) {
        let timeout: SimDuration = self.settings.shutdown_timeout;
        match self.stopping {
            Some(s) if s.forceful_deadline.is_some() => {
                self.exit("second signal");
                return;
            }
            Some(_) if !signal.forceful() => return,
            Some(ref mut s) => {
                s.forceful_deadline = Some(now + timeout);
                self.abort_builds(now, signal);
                self.check_stopped(now);
                return;
            }
            None => {}
        }
        self.stopping = Some(Stopping {
            forceful_deadline: signal.forceful().then_some(now + timeout),
            provider_requested: false,
            exited: false,
        });
        if self.sabotage != crate::autoscaler::Sabotage::KeepRequestingAfterStop {
            self.feeder = Feeder::Stopped;
        }
        for w in 0..self.workers.len() {
            let r = self.workers[w].runner;
            match self.workers[w].phase.clone() {
                Phase::Requesting { acquired, .. } | Phase::RequestBackoff { acquired, .. } => {
                    self.actions
                        .push_back(Action::CancelJobRequest { worker: w });
                    self.release_request(r, RequestResult::NoJob);
                    self.finish_cycle(w, acquired, now);
                }
                _ => {}
            }
        }
        if signal.forceful() {
            self.abort_builds(now, signal);
        }
        self.check_stopped(now);
    }

    /// Aborts every build that has a job (running or in preparation).
    fn abort_builds(&mut self, now: SimTime, signal: Signal) {
        let message = format!("aborted: {}", signal.name());
        for w in 0..self.workers.len() {
            let r = self.workers[w].runner;
            match self.workers[w].phase.clone() {
                Phase::Running {
                    job,
                    acquired,
                    used,
                    new_data,
                } => {
                    self.actions.push_back(Action::AbortJob {
                        worker: w,
                        runner: r,
                        job,
                        message: message.clone(),
                    });
                    if new_data && let Some(m) = used {
                        self.actions.push_back(Action::Release {
                            runner: r,
                            machine: m,
                        });
                    }
                    self.finish_cycle(w, acquired, now);
                }
                Phase::Preparing { job, acquired, .. } => {
                    if self.sabotage != crate::autoscaler::Sabotage::ForgetAbortedPreparations {
                        self.actions.push_back(Action::JobFailed {
                            runner: r,
                            job,
                            reason: FailureReason::RunnerInterrupted,
                            message: message.clone(),
                        });
                    }
                    self.workers[w].phase = Phase::AbortingPrep { acquired };
                }
                Phase::PrepWait { job, acquired, .. } => {
                    if self.sabotage != crate::autoscaler::Sabotage::ForgetAbortedPreparations {
                        self.actions.push_back(Action::JobFailed {
                            runner: r,
                            job,
                            reason: FailureReason::RunnerInterrupted,
                            message: message.clone(),
                        });
                    }
                    self.finish_cycle(w, acquired, now);
                }
                _ => {}
            }
        }
    }

    /// Once every worker has stopped, asks for the provider's Shutdown (once).
    pub(super) fn check_stopped(&mut self, _now: SimTime) {
        let Some(s) = self.stopping else { return };
        if s.exited || s.provider_requested || self.workers.iter().any(|w| w.phase != Phase::Idle) {
            return;
        }
        if let Some(st) = self.stopping.as_mut() {
            st.provider_requested = true;
        }
        self.actions.push_back(Action::ShutdownProvider {
            budget: self.settings.shutdown_timeout,
        });
    }

    pub(super) fn on_provider_shutdown_done(&mut self, _now: SimTime) {
        if self.stopping.is_some_and(|s| s.provider_requested) {
            self.exit("shutdown complete");
        }
    }

    /// Forceful handling: exit when `shutdown_timeout` has run out.
    pub(super) fn shutdown_timeout_due(&mut self, now: SimTime) {
        if self.forceful_deadline().is_some_and(|d| d <= now) {
            self.exit("shutdown_timeout expired");
        }
    }

    fn exit(&mut self, reason: &'static str) {
        if let Some(s) = self.stopping.as_mut()
            && !s.exited
        {
            s.exited = true;
            self.actions.push_back(Action::Exit { reason });
        }
    }
}
