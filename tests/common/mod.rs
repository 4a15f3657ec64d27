//! Helpers shared by the simulation test files: scenarios written inline, relative to
//! `tests/fixtures/` (so `profile = "fakes/fixed.toml"` is the fixed-latency cloud).
#![allow(dead_code)]

use std::path::PathBuf;

use simrun::scenario::{Scenario, ScenarioOverrides, load_scenario_str};
use simrun::sim::records::RunRecords;
use simrun::sim::world::{RunOptions, run};

/// The crate's root folder.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Loads an inline scenario whose relative paths start at `tests/fixtures/`; panics with the
/// rendered diagnostic when it does not load.
pub fn scenario(text: &str) -> Scenario {
    load_scenario_str(
        "t.toml",
        text,
        &root().join("tests/fixtures"),
        &ScenarioOverrides::default(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render()))
}

/// Runs an inline scenario ([`scenario`]) with the default options (invariants checked).
pub fn simulate(text: &str) -> RunRecords {
    run(&scenario(text), &RunOptions::default()).expect("runs")
}

/// [`simulate`], asserting that the run found no invariant violation.
pub fn simulate_clean(text: &str) -> RunRecords {
    let r = simulate(text);
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    r
}
