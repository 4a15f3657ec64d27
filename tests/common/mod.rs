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

/// The proptest configuration of the property files: `PROPTEST_CASES` cases (default
/// `default_cases`, sized so the whole suite stays fast on 2 cores), no failure files (failing
/// cases are written as scenarios instead), and a fixed generator seed so CI explores the
/// same cases on every run and a failure there is reproducible; `PROPTEST_RNG_SEED=<n>`
/// explores others.
pub fn proptest_config(default_cases: u32) -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    let seed = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_261_130);
    proptest::test_runner::Config {
        cases,
        rng_seed: proptest::test_runner::RngSeed::Fixed(seed),
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    }
}
