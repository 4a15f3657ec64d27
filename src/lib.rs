//! simrun: a deterministic simulation and testing harness for GitLab Runner's `docker+machine`
//! autoscaler. See `README.md` and `../shared/DESIGN.md` for the architecture.
//!
//! Modules import downward only: `config` may use `time`, never the other way.

pub mod autoscaler;
pub mod cloud;
pub mod config;
pub mod time;
