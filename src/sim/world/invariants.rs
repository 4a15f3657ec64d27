//! The invariant checker (issue "Invariants…", item 2): what every simulation checks about the
//! faithful core, the manager and the fake cloud, and the GitLab Runner quirks (spec §6) it
//! counts instead of calling them violations.
//!
//! Each violation becomes a [`Finding`] in `violations` (summary.json) **and** a row of the
//! decision log (events.csv) with event `invariant violated` and reason
//! `<invariant>: <detail>`, at the virtual time it was detected. Each quirk becomes a
//! [`Finding`] with `quirk = Some("Qn")` (summary.json `quirks`) and, except Q3 (whose
//! `adopted` row already says it), an events.csv row with event `quirk` and reason
//! `Qn <invariant>: <detail>`.
//!
//! Checking is on in every run; [`super::RunOptions::skip_invariants`] turns the violation
//! checks off for benchmarks (quirks are still counted: they are reported behaviour).
//!
//! # Invariants (the `invariant` names in reports)
//! Jobs:
//! * `job_ends_once`: a job that already ended (succeeded, failed or aborted) is never reported
//!   ended again.
//! * `job_runs_once`: a job is never started while it is running.
//! * `no_job_vanishes`: when the process exits, no job is still in the runner's hands (every
//!   job it took has succeeded, failed or been aborted, spec §4.1); at the horizon every job
//!   is pending in GitLab's queue, in the runner's hands, or ended.
//! * `every_job_ends_once`: at the horizon each job's history is consistent with its outcome
//!   (succeeded: picked ≤ start ≤ end; failed: picked, ended, with a reason; running: picked,
//!   not ended; pending: never picked).
//!
//! Machines and jobs:
//! * `one_job_per_machine`: a job never starts on a machine that runs another job.
//! * `jobs_only_on_used_machines`: a job starts only on a machine whose record is Used, and
//!   the record stays Used while the job runs (spec §2.3, §3.6 step 5) — checked while the
//!   process lives.
//! * `jobs_within_concurrent`: running jobs ≤ `concurrent` (spec §1.4).
//! * `jobs_within_limit`: running jobs of a runner ≤ its `limit` when > 0 (spec §1.4,
//!   buildsHelper; Q10's last sentence).
//! * `machines_within_limit`: background (idle-target) creation never takes a runner past
//!   `limit` (spec §3.3), counting machines as Acquire's Total does: listed directories plus
//!   Creating records not yet listed (§3.4 step 3, §3.5). Machines beyond `limit` from the on-demand paths of spec Q10 are
//!   counted as quirk `Q10` (limit excess, DESIGN.md "Terms"), not as violations.
//! * `creates_within_max_growth_rate`: driver creates of a runner running at once ≤
//!   `MaxGrowthRate` when > 0 (spec §3.7, Q17).
//! * `jobs_within_max_builds`: jobs run on one machine ≤ `MaxBuilds` when > 0 (spec §3.11).
//!   Adopted machines start at UsedCount 1 (Q3, counted as a quirk), so they may get fewer.
//!
//! Cloud and cost:
//! * `billed_machines_accounted`: every VM the fake cloud bills is accounted for, checked after
//!   every step (DESIGN.md "Terms"). While the process runs: it has a record in the core
//!   (tracked); or the cloud counts it orphaned with a cause (no store entry: no runner can
//!   find it); or its store entry remains and either it never had a record in this process
//!   (pre-existing, not yet adopted, spec §2.4) or its record was deleted by a logged removal
//!   (Q12 give-up / M9: the entry stays and is re-adopted). After the process exited: its store
//!   entry remains (left running), or its create never finished successfully (still running —
//!   spec §4.2: the runner does not kill `docker-machine create` — or failed after the exit;
//!   `finish` reports such a VM as orphaned), or the cloud counts it orphaned. Reported once
//!   per machine.
//! * `cost_equals_cloud_bill`: the machines' costs sum to the fake cloud's bill (checked in
//!   `finish`). This checks the simulator's own bookkeeping: no core or manager defect can
//!   break it, so it has no sabotage test.
//!
//! Shutdown (spec §4):
//! * `no_job_request_after_stop`: no job request after SIGQUIT/SIGTERM/SIGINT (§4.1).
//! * `drain_leaves_nothing`: when `[machine.shutdown_drain]` is enabled and the drain finished
//!   within `shutdown_timeout` (its summary was logged and no machine was given up for lack of
//!   time: no "did not settle", no cancelled backoff, no M8 expired-budget "removal", no
//!   cancellation), then at the exit every VM left in the cloud is one the drain reported
//!   failed, one never listed by this process (Q20: the drain covers in-memory records only),
//!   or one the cloud counts orphaned (Q21: `rm -f` exited 0 but the VM stayed).
//!
//! # Quirks counted (spec §6)
//! Q3 (adopted machines start at UsedCount 1), Q10 (limit excess), Q11 (negative IdleCount:
//! an Acquire answers "no free machines" while the active IdleCount is < 0 — counted once per
//! runner), Q18 (a preparation retry starts while the machine from Acquire is already Used:
//! its UsedCount was raised without a job and the retry's Use takes another machine; counted
//! at each such retry, attempts 2 and 3. It needs a preparation step that fails after Use and
//! is retried: the `image_pull` fault with `retried = true`, see
//! [`crate::fake_cloud::faults`]), Q24 (an on-demand creation whose waiter
//! left it finishes as an extra Idle machine).

use std::collections::BTreeSet;

use crate::autoscaler::{DrainEvent, DrainEventKind, Event, EventKind, MachineState};
use crate::time::SimTime;

use super::{EventRow, Finding, World};

/// What the checker remembers between steps.
#[derive(Clone, Debug, Default)]
pub(super) struct CheckState {
    /// Machines that had a core record (created or adopted) in this process.
    ever_tracked: BTreeSet<String>,
    /// Machines whose record the core deleted with a logged removal, until a record returns.
    removal_logged: BTreeSet<String>,
    /// Machines already reported by `billed_machines_accounted`.
    unaccounted: BTreeSet<String>,
    /// Jobs already reported by `jobs_only_on_used_machines`.
    not_used: BTreeSet<usize>,
    /// On-demand creations their waiter left (Q24 if they succeed).
    left_by_waiter: BTreeSet<String>,
    /// Runners counted for Q11.
    q11: BTreeSet<String>,
    /// Machines the drain reported failed.
    drain_failed: BTreeSet<String>,
    /// The drain gave something up for lack of time (or was cancelled).
    drain_ran_out: bool,
    /// The drain logged its summary.
    drain_finished: bool,
}

/// Records a violation: a finding and an events.csv row.
pub(super) fn violation(
    findings: &mut Vec<Finding>,
    events: &mut Vec<EventRow>,
    at: SimTime,
    invariant: &'static str,
    detail: String,
) {
    events.push(EventRow {
        time: at,
        runner: String::new(),
        machine: String::new(),
        event: "invariant violated".into(),
        reason: format!("{invariant}: {detail}"),
    });
    findings.push(Finding {
        time_ms: at.as_millis(),
        invariant,
        detail,
        quirk: None,
    });
}

impl World<'_> {
    /// Records a violation now (nothing when checks are off).
    pub(super) fn violate(&mut self, invariant: &'static str, detail: String) {
        if self.check {
            let now = self.now();
            violation(
                &mut self.violations,
                &mut self.events,
                now,
                invariant,
                detail,
            );
        }
    }

    /// Counts quirk `q` now, with an events.csv row.
    pub(super) fn quirk(&mut self, q: &'static str, invariant: &'static str, detail: String) {
        let now = self.now();
        self.events.push(EventRow {
            time: now,
            runner: String::new(),
            machine: String::new(),
            event: "quirk".into(),
            reason: format!("{q} {invariant}: {detail}"),
        });
        self.quirks.push(Finding {
            time_ms: now.as_millis(),
            invariant,
            detail,
            quirk: Some(q),
        });
    }

    /// Follows the core's decision log: logged removals, waiters leaving creations (Q24).
    pub(super) fn note_core_event(&mut self, e: &Event) {
        let Some(m) = e.machine.as_deref() else {
            return;
        };
        match e.kind {
            EventKind::Removed { .. } => {
                self.inv.removal_logged.insert(m.to_string());
            }
            // Every record starts with one of these (spec §2.3, §2.4).
            EventKind::Adopted | EventKind::CreationStarted { .. } => {
                self.inv.removal_logged.remove(m);
                if !self.inv.ever_tracked.contains(m) {
                    self.inv.ever_tracked.insert(m.to_string());
                }
            }
            EventKind::CreationLeftByWaiter => {
                self.inv.left_by_waiter.insert(m.to_string());
            }
            EventKind::Created { .. } if self.inv.left_by_waiter.remove(m) => {
                self.quirk(
                    "Q24",
                    "extra_idle_machine",
                    format!("{m}: on-demand creation finished after its waiter took another machine or gave up: an extra Idle machine"),
                );
            }
            EventKind::CreationFailed { .. } => {
                self.inv.left_by_waiter.remove(m);
            }
            _ => {}
        }
    }

    /// Follows the drain's log: which machines it reported failed, whether time ran out.
    pub(super) fn note_drain_event(&mut self, d: &DrainEvent) {
        match &d.kind {
            DrainEventKind::DidNotSettle { .. } | DrainEventKind::BackoffCancelled { .. } => {
                self.inv.drain_ran_out = true;
                self.inv.drain_failed.extend(d.machine.clone());
            }
            DrainEventKind::InFlightGaveUp | DrainEventKind::GaveUp { .. } => {
                self.inv.drain_failed.extend(d.machine.clone());
            }
            DrainEventKind::OrphanedAfterDeadline | DrainEventKind::Cancelled => {
                self.inv.drain_ran_out = true;
            }
            DrainEventKind::Finished(_) => self.inv.drain_finished = true,
            _ => {}
        }
    }

    /// Q11: an Acquire said "no free machines" while the runner's active IdleCount is
    /// negative (never scales, spec §6 Q11). Counted once per runner.
    pub(super) fn note_no_free_machines(&mut self, runner: &str) {
        if self.inv.q11.contains(runner) {
            return;
        }
        let now = self.now();
        let idle_count = self
            .s
            .runner
            .config
            .runner(runner)
            .and_then(|r| r.machine.as_ref())
            .map(|m| m.idle_at(self.s.calendar.instant(now)).settings.idle_count);
        if let Some(ic) = idle_count.filter(|ic| *ic < 0) {
            self.inv.q11.insert(runner.to_string());
            self.quirk(
                "Q11",
                "negative_idle_count_never_scales",
                format!("runner {runner}: IdleCount {ic} is not on-demand mode: no free machines and none is ever created"),
            );
        }
    }

    /// Q18: a preparation retry while the machine from Acquire is already Used (spec §3.6
    /// last paragraph): its UsedCount was raised by the failed attempt's Use, so with
    /// `MaxBuilds` it runs fewer jobs, and the retry takes another machine.
    pub(super) fn note_preparation_retry(&mut self, attempt: u32, acquired: Option<&str>) {
        if attempt < 2 {
            return;
        }
        if let Some(m) = acquired
            && self
                .core
                .record(m)
                .is_some_and(|r| r.state == MachineState::Used)
        {
            self.quirk(
                "Q18",
                "used_count_without_job",
                format!("{m}: preparation attempt {attempt} takes another machine; {m} is Used with its UsedCount raised without a job"),
            );
        }
    }

    /// `job_runs_once`: a start for a job the world does not have in preparation.
    pub(super) fn check_unprepared_start(&mut self, job: u64) {
        if !self.check {
            return;
        }
        if self.running.values().any(|&i| self.jobs[i].id == job) {
            self.violate(
                "job_runs_once",
                format!("job {job} started again while it runs"),
            );
        }
    }

    /// The checks at a job's start on `machine` for `runner` (index): one job per machine,
    /// only on Used machines, `concurrent`, per-runner `limit`.
    pub(super) fn check_job_start(&mut self, i: usize, runner: usize, machine: Option<&str>) {
        if !self.check {
            return;
        }
        if let Some(m) = machine {
            if let Some(other) = self
                .running
                .values()
                .find(|&&j| self.records[j].machine.as_deref() == Some(m))
            {
                let detail = format!(
                    "job {} started on {m} while job {} runs there",
                    self.jobs[i].id, self.jobs[*other].id
                );
                self.violate("one_job_per_machine", detail);
            }
            let state = self.core.record(m).map(|r| r.state);
            if state != Some(MachineState::Used) {
                let detail = format!(
                    "job {} started on {m}, which is {}",
                    self.jobs[i].id,
                    state.map_or("without a record".to_string(), |s| s.to_string())
                );
                self.inv.not_used.insert(i);
                self.violate("jobs_only_on_used_machines", detail);
            }
        }
        let concurrent = self.manager.settings().concurrent;
        if self.running.len() + 1 > concurrent {
            let detail = format!(
                "{} jobs running with concurrent = {concurrent}",
                self.running.len() + 1
            );
            self.violate("jobs_within_concurrent", detail);
        }
        let limit = self.s.runner.config.runners[runner].limit;
        if limit > 0 {
            let id = &self.runner_ids[runner];
            let of_runner = self
                .running
                .values()
                .filter(|&&j| self.records[j].runner.as_ref() == Some(id))
                .count() as i64
                + 1;
            if of_runner > limit {
                self.violate(
                    "jobs_within_limit",
                    format!("runner {id}: {of_runner} jobs running with limit {limit}"),
                );
            }
        }
    }

    /// `jobs_within_max_builds` after a job started on `machine`, its `jobs`-th.
    pub(super) fn check_max_builds(&mut self, runner: usize, machine: &str, jobs: u32) {
        let max_builds = self.s.runner.config.runners[runner]
            .machine
            .as_ref()
            .map_or(0, |c| c.max_builds);
        if max_builds > 0 && i64::from(jobs) > max_builds {
            self.violate(
                "jobs_within_max_builds",
                format!("{machine} ran {jobs} jobs with MaxBuilds {max_builds}"),
            );
        }
    }

    /// `job_ends_once` before job `i` is recorded ended (failed).
    pub(super) fn check_job_not_ended(&mut self, i: usize) {
        if let Some(end) = self.records[i].end {
            let detail = format!(
                "job {} reported ended again (it ended at {} ms as {})",
                self.jobs[i].id,
                end.as_millis(),
                self.records[i].outcome.as_str()
            );
            self.violate("job_ends_once", detail);
        }
    }

    /// Invariant: background (idle-target) creation never takes a runner past `limit`; only
    /// the on-demand paths of spec Q10 may, and those are counted as quirks by `observe`.
    /// Checked on the records after the step that started the creation; when an on-demand
    /// creation of the same runner happened in that step too, the excess is attributed to it.
    pub(super) fn check_background_creations(
        &mut self,
        background: &[String],
        on_demand: &[String],
    ) {
        if !self.check {
            return;
        }
        for runner in background {
            if on_demand.contains(runner) {
                continue;
            }
            let Some(i) = self.runner_ids.iter().position(|r| r == runner) else {
                continue;
            };
            let limit = self.s.runner.config.runners[i].limit;
            // Total as Acquire counts it (spec §3.4 step 3, §3.5): the listed machines plus
            // the Creating records not yet listed. A record whose directory never existed or
            // is gone (a create that failed before writing it, in its "Failed to create"
            // removal) is not listed and does not count.
            let total = self
                .core
                .records()
                .filter(|r| r.runner.as_deref() == Some(runner))
                .filter(|r| r.state == MachineState::Creating || self.cloud.in_store(&r.name))
                .count() as i64;
            if limit > 0 && total > limit {
                self.violate(
                    "machines_within_limit",
                    format!("runner {runner}: background creation reached {total} machines with limit {limit}"),
                );
            }
        }
    }

    /// Invariant: at most `MaxGrowthRate` driver creates of a runner run at once (spec §3.7,
    /// when > 0).
    pub(super) fn check_growth(&mut self, runner: &str) {
        if !self.check {
            return;
        }
        let mgr = self
            .s
            .runner
            .config
            .runner(runner)
            .and_then(|r| r.machine.as_ref())
            .map_or(0, |m| m.max_growth_rate);
        let running = self
            .creates_in_flight
            .values()
            .filter(|r| r.as_str() == runner)
            .count() as i64;
        if mgr > 0 && running > mgr {
            self.violate(
                "creates_within_max_growth_rate",
                format!("runner {runner}: {running} creates running with MaxGrowthRate {mgr}"),
            );
        }
    }

    /// After every step: running jobs stay on Used machines; every billed VM is accounted for.
    pub(super) fn check_after_step(&mut self) {
        if !self.check {
            return;
        }
        if !self.exited {
            let mut bad = Vec::new();
            for &i in self.running.values() {
                if self.inv.not_used.contains(&i) {
                    continue;
                }
                let Some(m) = self.records[i].machine.as_deref() else {
                    continue;
                };
                let state = self.core.record(m).map(|r| r.state);
                if state != Some(MachineState::Used) {
                    bad.push((i, m.to_string(), state));
                }
            }
            for (i, m, state) in bad {
                self.inv.not_used.insert(i);
                let detail = format!(
                    "job {} runs on {m}, which is now {}",
                    self.jobs[i].id,
                    state.map_or("without a record".to_string(), |s| s.to_string())
                );
                self.violate("jobs_only_on_used_machines", detail);
            }
        }
        let mut unaccounted = Vec::new();
        for (name, vm) in self.cloud.vms() {
            if vm.orphaned.is_some() || self.inv.unaccounted.contains(name) {
                continue;
            }
            let in_store = self.cloud.in_store(name);
            let ok = if self.exited {
                in_store || !vm.ready
            } else {
                self.core.record(name).is_some()
                    || (in_store
                        && (!self.inv.ever_tracked.contains(name)
                            || self.inv.removal_logged.contains(name)))
            };
            if !ok {
                unaccounted.push((name.clone(), in_store));
            }
        }
        for (name, in_store) in unaccounted {
            self.inv.unaccounted.insert(name.clone());
            let detail = format!(
                "{name} is billed but {} and not counted as orphaned",
                if self.exited {
                    "has no store entry after the exit"
                } else if in_store {
                    "its record vanished without a removal"
                } else {
                    "has neither a record nor a store entry"
                }
            );
            self.violate("billed_machines_accounted", detail);
        }
    }

    /// At the process exit: no job left in the runner's hands; with a drain that finished in
    /// time, nothing left in the cloud but what it reported failed.
    pub(super) fn check_exit(&mut self) {
        if !self.check {
            return;
        }
        let in_hand: Vec<usize> = self
            .running
            .values()
            .chain(self.preparing.values())
            .copied()
            .collect();
        for i in in_hand {
            let detail = format!(
                "job {} was in the runner's hands at the exit and was neither finished nor reported failed",
                self.jobs[i].id
            );
            self.violate("no_job_vanishes", detail);
        }
        let drain_on = self
            .s
            .runner
            .config
            .shutdown_drain
            .as_ref()
            .is_some_and(|d| d.enabled);
        if drain_on && self.inv.drain_finished && !self.inv.drain_ran_out {
            let left: Vec<String> = self
                .cloud
                .vms()
                .iter()
                .filter(|(n, vm)| {
                    vm.orphaned.is_none()
                        && self.inv.ever_tracked.contains(*n)
                        && !self.inv.drain_failed.contains(*n)
                })
                .map(|(n, _)| n.clone())
                .collect();
            for name in left {
                self.violate(
                    "drain_leaves_nothing",
                    format!("{name} is still in the cloud after a drain that finished in time and did not report it failed"),
                );
            }
        }
    }

    /// At the horizon: every job is pending in the queue, in the runner's hands, or ended.
    pub(super) fn check_jobs_at_horizon(&mut self) {
        if !self.check {
            return;
        }
        let in_hand: BTreeSet<usize> = self
            .running
            .values()
            .chain(self.preparing.values())
            .copied()
            .collect();
        let queued: BTreeSet<usize> = self.pending.iter().copied().collect();
        let now = self.now();
        let mut lost = Vec::new();
        for (i, r) in self.records.iter().enumerate() {
            let ok = if r.end.is_some() {
                true
            } else if r.picked.is_some() {
                self.exited || in_hand.contains(&i)
            } else {
                r.arrival > now || queued.contains(&i)
            };
            if !ok {
                lost.push(i);
            }
        }
        for i in lost {
            let detail = format!(
                "job {} is neither pending, in the runner's hands nor ended at the horizon",
                self.jobs[i].id
            );
            self.violate("no_job_vanishes", detail);
        }
    }
}
