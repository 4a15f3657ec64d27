//! The simulator: event engine, seeded RNG streams, workloads and fake clouds (DESIGN.md
//! "Modules": `sim`). Pieces here depend only on `time` (and `config` for runner options), never
//! on modules above `sim`.

pub mod dist;
pub mod engine;
pub mod fake_cloud;
pub mod rng;
pub mod workload;
