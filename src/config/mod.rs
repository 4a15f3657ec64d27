//! GitLab Runner `config.toml`: the model (spec §1), the loader that reads it as GitLab Runner
//! does, autoscaling periods, and token/secret handling.

pub mod model;
pub mod period;
pub mod token;

pub use model::*;
