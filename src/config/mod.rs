//! GitLab Runner `config.toml`: the model (spec §1), the loader that reads it as GitLab Runner
//! does (keys, defaults, errors), the checks that warn about what loads but misbehaves,
//! autoscaling periods, and token/secret handling.

pub mod diagnostic;
pub mod go_duration;
pub mod lint;
pub mod load;
pub mod model;
pub mod period;
pub mod redact;
pub mod token;
pub mod toml_reader;
pub mod week;

pub use load::{LoadFailure, LoadOptions, LoadedConfig, load_config_file, load_config_str};
pub use model::*;
