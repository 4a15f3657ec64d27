//! The provider's Prometheus metrics (spec §3.13), kept as plain values: the core updates
//! counters and histograms as it goes; the state gauge is computed from the records on demand
//! ("scrape time"). All series carry the const label `executor="docker+machine"` in GitLab
//! Runner; it is implied here.

use std::collections::BTreeMap;
use std::fmt;

use crate::cloud::DriverState;
use crate::time::SimTime;

use super::machine::{MachineState, Record};

/// The metric target labels of a machine (spec §3.12), in the label order of conformance
/// case 96 after `action`: zone, region, project, machine type.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TargetLabels {
    /// `target_zone`.
    pub zone: String,
    /// `target_region`: the zone up to its last `-`, empty if the zone has no `-`.
    pub region: String,
    /// `target_project`.
    pub project: String,
    /// `target_machine_type`.
    pub machine_type: String,
}

impl TargetLabels {
    /// The labels GitLab Runner derives from a machine's driver state (spec §3.12, cases
    /// 92–95): only the `google` driver is understood; any other driver gives empty labels.
    pub fn from_driver_state(state: &DriverState) -> Self {
        if state.driver != "google" {
            return TargetLabels::default();
        }
        let region = match state.zone.rfind('-') {
            Some(i) => state.zone[..i].to_string(),
            None => String::new(),
        };
        TargetLabels {
            zone: state.zone.clone(),
            region,
            project: state.project.clone(),
            machine_type: state.machine_type.clone(),
        }
    }
}

/// The label names of the actions counter, in order (conformance case 96).
pub const ACTION_LABELS: [&str; 5] = [
    "action",
    "target_zone",
    "target_region",
    "target_project",
    "target_machine_type",
];

/// The `action` label of `gitlab_runner_autoscaling_actions_total` (spec §3.13).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ActionLabel {
    /// `created`.
    Created,
    /// `creation-failed`.
    CreationFailed,
    /// `used`.
    Used,
    /// `removed` (also counts give-ups and drain removals, quirk Q12).
    Removed,
}

impl fmt::Display for ActionLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ActionLabel::Created => "created",
            ActionLabel::CreationFailed => "creation-failed",
            ActionLabel::Used => "used",
            ActionLabel::Removed => "removed",
        })
    }
}

/// The `state` label of `gitlab_runner_autoscaling_machine_states` (spec §3.13), in GitLab
/// Runner's order.
pub const GAUGE_STATES: [&str; 6] = [
    "acquired",
    "creating",
    "idle",
    "used",
    "removing",
    "stuck-on-removing",
];

/// A cumulative histogram with fixed upper bounds in **seconds**.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    /// Upper bounds (seconds), ascending; `+Inf` is implied.
    pub bounds: Vec<f64>,
    /// Observations ≤ each bound (not cumulative: per bucket; the last entry is `+Inf`).
    pub counts: Vec<u64>,
    /// Sum of observations in seconds.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

impl Histogram {
    /// An empty histogram with `bounds` (seconds).
    pub fn new(bounds: Vec<f64>) -> Self {
        let n = bounds.len() + 1;
        Histogram {
            bounds,
            counts: vec![0; n],
            sum: 0.0,
            count: 0,
        }
    }

    /// Creation buckets: 30 × 1.25^k s for k = 0…9 (spec §3.13).
    pub fn creation() -> Self {
        Histogram::new((0..10).map(|k| 30.0 * 1.25f64.powi(k)).collect())
    }

    /// Stopping/removal/failed-creation buckets: 1, 3, 5, 10, 30, 50, 60, 80, 90, 120 s.
    pub fn short() -> Self {
        Histogram::new(vec![
            1.0, 3.0, 5.0, 10.0, 30.0, 50.0, 60.0, 80.0, 90.0, 120.0,
        ])
    }

    /// Records one duration of `ms` milliseconds.
    pub fn observe_ms(&mut self, ms: u64) {
        let secs = ms as f64 / 1000.0;
        let i = self
            .bounds
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(self.bounds.len());
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.sum += secs;
        self.count += 1;
    }

    /// Cumulative count of observations ≤ `bounds[i]` (Prometheus `le` semantics).
    pub fn cumulative(&self, i: usize) -> u64 {
        self.counts.iter().take(i + 1).sum()
    }
}

/// One sample of the state gauge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateSample {
    /// One of [`GAUGE_STATES`].
    pub state: &'static str,
    /// The target labels of the bucket.
    pub targets: TargetLabels,
    /// Number of machines.
    pub value: u64,
}

/// All metrics of the provider (spec §3.13).
#[derive(Clone, Debug, PartialEq)]
pub struct Metrics {
    /// `gitlab_runner_autoscaling_actions_total` by (action, target labels).
    pub actions: BTreeMap<(ActionLabel, TargetLabels), u64>,
    /// `…_machine_creation_duration_seconds` (driver create time after the growth wait).
    pub creation: Histogram,
    /// `…_machine_stopping_duration_seconds`.
    pub stopping: Histogram,
    /// `…_machine_removal_duration_seconds`.
    pub removal: Histogram,
    /// `…_machine_failed_creation_duration_seconds`.
    pub failed_creation: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            actions: BTreeMap::new(),
            creation: Histogram::creation(),
            stopping: Histogram::short(),
            removal: Histogram::short(),
            failed_creation: Histogram::short(),
        }
    }
}

impl Metrics {
    /// Adds 1 to the actions counter.
    pub fn count(&mut self, action: ActionLabel, targets: &TargetLabels) {
        *self.actions.entry((action, targets.clone())).or_insert(0) += 1;
    }

    /// The counter's total for `action` over all target labels.
    pub fn action_total(&self, action: ActionLabel) -> u64 {
        self.actions
            .iter()
            .filter(|((a, _), _)| *a == action)
            .map(|(_, v)| *v)
            .sum()
    }
}

/// The state gauge at scrape time `now` (spec §3.13): all records of all runners except dead
/// ones (Idle, LastSeen > 20 min ago), one series per state per distinct target tuple; with no
/// records, six zero samples with empty labels (cases 89–91).
pub fn machine_states<'a>(
    records: impl IntoIterator<Item = &'a Record>,
    now: SimTime,
) -> Vec<StateSample> {
    let mut buckets: BTreeMap<TargetLabels, [u64; 6]> = BTreeMap::new();
    for r in records {
        if r.is_dead(now) {
            continue;
        }
        let counts = buckets.entry(r.targets.clone()).or_insert([0; 6]);
        let i = match r.state {
            MachineState::Acquired => 0,
            MachineState::Creating => 1,
            MachineState::Idle => 2,
            MachineState::Used => 3,
            MachineState::Removing if r.is_stuck_on_remove() => 5,
            MachineState::Removing => 4,
        };
        counts[i] += 1;
    }
    if buckets.is_empty() {
        buckets.insert(TargetLabels::default(), [0; 6]);
    }
    let mut out = Vec::new();
    for (targets, counts) in buckets {
        for (state, value) in GAUGE_STATES.iter().zip(counts) {
            out.push(StateSample {
                state,
                targets: targets.clone(),
                value,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn google(zone: &str) -> DriverState {
        DriverState {
            driver: "google".into(),
            zone: zone.into(),
            project: "proj".into(),
            machine_type: "n2-standard-4".into(),
        }
    }

    fn total(samples: &[StateSample], state: &str) -> u64 {
        samples
            .iter()
            .filter(|s| s.state == state)
            .map(|s| s.value)
            .sum()
    }

    #[test]
    fn case_089_dead_machines_are_hidden() {
        let none: Vec<Record> = Vec::new();
        assert_eq!(total(&machine_states(&none, SimTime(0)), "idle"), 0);
        let mut recs = vec![Record::discovered("m", SimTime(0))];
        assert_eq!(total(&machine_states(&recs, SimTime(1000)), "idle"), 1);
        recs[0].last_seen = SimTime(0);
        let late = SimTime(21 * 60_000);
        assert_eq!(total(&machine_states(&recs, late), "idle"), 0);
    }

    #[test]
    fn case_090_gauge_buckets_by_target() {
        let east = TargetLabels {
            zone: "us-east1-b".into(),
            ..TargetLabels::default()
        };
        let west = TargetLabels {
            zone: "us-west1-a".into(),
            ..TargetLabels::default()
        };
        let mut recs = Vec::new();
        for n in ["a", "b"] {
            let mut r = Record::discovered(n, SimTime(0));
            r.targets = east.clone();
            recs.push(r);
        }
        let mut r = Record::discovered("c", SimTime(0));
        r.state = MachineState::Used;
        r.targets = west.clone();
        recs.push(r);
        let s = machine_states(&recs, SimTime(0));
        assert_eq!(s.len(), 12);
        let get = |t: &TargetLabels, st: &str| {
            s.iter()
                .find(|x| &x.targets == t && x.state == st)
                .map(|x| x.value)
        };
        assert_eq!(get(&east, "idle"), Some(2));
        assert_eq!(get(&east, "used"), Some(0));
        assert_eq!(get(&west, "idle"), Some(0));
        assert_eq!(get(&west, "used"), Some(1));
    }

    #[test]
    fn case_091_no_records_six_zero_samples() {
        let none: Vec<Record> = Vec::new();
        let s = machine_states(&none, SimTime(0));
        assert_eq!(s.len(), 6);
        assert!(
            s.iter()
                .all(|x| x.value == 0 && x.targets == TargetLabels::default())
        );
        let states: Vec<&str> = s.iter().map(|x| x.state).collect();
        assert_eq!(states, GAUGE_STATES);
    }

    #[test]
    fn case_092_google_zone_gives_region() {
        let t = TargetLabels::from_driver_state(&google("us-east1-d"));
        assert_eq!(t.zone, "us-east1-d");
        assert_eq!(t.region, "us-east1");
        assert_eq!(t.project, "proj");
        assert_eq!(t.machine_type, "n2-standard-4");
    }

    #[test]
    fn case_093_google_without_zone() {
        let mut s = google("");
        s.machine_type = String::new();
        let t = TargetLabels::from_driver_state(&s);
        assert_eq!((t.zone.as_str(), t.region.as_str()), ("", ""));
        assert_eq!(t.project, "proj");
    }

    #[test]
    fn case_094_other_drivers_give_empty_labels() {
        let mut s = google("us-east-1a");
        s.driver = "amazonec2".into();
        assert_eq!(TargetLabels::from_driver_state(&s), TargetLabels::default());
    }

    #[test]
    fn case_095_zone_without_dash() {
        let t = TargetLabels::from_driver_state(&google("unexpected"));
        assert_eq!((t.zone.as_str(), t.region.as_str()), ("unexpected", ""));
    }

    #[test]
    fn case_096_action_label_order() {
        assert_eq!(
            ACTION_LABELS,
            [
                "action",
                "target_zone",
                "target_region",
                "target_project",
                "target_machine_type"
            ]
        );
    }

    #[test]
    fn histogram_buckets() {
        let c = Histogram::creation();
        assert_eq!(c.bounds.len(), 10);
        assert_eq!(c.bounds[3], 58.59375);
        assert_eq!(c.bounds[5], 91.552734375);
        let mut h = Histogram::short();
        h.observe_ms(1000);
        h.observe_ms(1001);
        h.observe_ms(500_000);
        assert_eq!(h.cumulative(0), 1);
        assert_eq!(h.cumulative(1), 2);
        assert_eq!(h.counts[10], 1);
        assert_eq!(h.count, 3);
    }
}
