//! simrun: a deterministic simulation and testing harness for GitLab Runner's `docker+machine`
//! autoscaler. See `README.md` and `../shared/DESIGN.md` for the architecture.
//!
//! Modules import downward only (`../shared/DESIGN.md`): cli > sim > scenario > manager >
//! autoscaler > cloud > config > time. A module never imports one above it.

pub mod autoscaler;
pub mod cli;
pub mod cloud;
pub mod config;
pub mod manager;
pub mod scenario;
pub mod sim;
pub mod time;
