//! simrun: a deterministic simulation and testing harness for GitLab Runner's `docker+machine`
//! autoscaler. See `README.md` and `../shared/DESIGN.md` for the architecture.
//!
//! Modules import downward only (`../shared/DESIGN.md`): cli > sim (engine, world) > scenario >
//! workload, fake_cloud > manager > autoscaler > cloud > config > random > time. A module never imports one above it.

pub mod autoscaler;
pub mod cli;
pub mod cloud;
pub mod config;
pub mod fake_cloud;
pub mod manager;
pub mod random;
pub mod report;
pub mod scenario;
pub mod sim;
pub mod time;
pub mod workload;
