//! The simulator: the event engine (and, next, the world that drives the runner manager, the
//! autoscaler core, GitLab's job queue and the fake cloud). Workloads, fake-cloud profiles and
//! random streams live below it (`crate::workload`, `crate::fake_cloud`, `crate::random`) so
//! that `scenario` can use them without importing `sim`.

pub mod engine;
pub mod metrics;
pub mod records;
pub mod recovery;
pub mod world;
