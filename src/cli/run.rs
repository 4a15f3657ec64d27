//! `simrun run SCENARIO` (also `simrun SCENARIO`): simulate a scenario and print its summary;
//! with `--out DIR` also write summary.json, jobs.csv, machines.csv, timeline.csv and
//! events.csv. Exit 0 when the run is clean, 1 when invariants were violated, 2 for bad input.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;

use crate::report::{summarize, terminal_summary, write_outputs};
use crate::scenario::{ScenarioOverrides, load_scenario};
use crate::sim::world::{RunOptions, run as simulate};
use crate::time::parse_duration;

use super::{EXIT_BAD_INPUT, EXIT_FINDINGS, EXIT_OK};

/// Arguments of `simrun run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario file (TOML), e.g. scenarios/burst.toml.
    pub scenario: PathBuf,
    /// Seed for every random stream (overrides `[scenario] seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// How much virtual time to simulate, e.g. 90m, 4h, 2d (overrides `[scenario] duration`;
    /// fault windows past the new end are clipped, faults and signals after it dropped, with a
    /// warning each).
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// Write summary.json and the CSV files into this folder (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print nothing but errors (the exit code still tells the outcome).
    #[arg(long, short)]
    pub quiet: bool,
    /// Folder of fake-cloud profiles (default: the project's fakes/).
    #[arg(long, value_name = "DIR")]
    pub fakes: Option<PathBuf>,
    /// Turn the invariant checks off (for timing runs only; violations are then not
    /// reported, quirks still are).
    #[arg(long, hide = true)]
    pub no_invariants: bool,
}

/// Runs `simrun run`; returns the exit code.
pub fn run(args: &RunArgs) -> u8 {
    let duration = match args.duration.as_deref().map(parse_duration) {
        None => None,
        Some(Ok(d)) if d.as_millis() > 0 => Some(d),
        Some(Ok(_)) => {
            eprintln!("error: --duration: must be positive");
            return EXIT_BAD_INPUT;
        }
        Some(Err(e)) => {
            eprintln!("error: --duration: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let overrides = ScenarioOverrides {
        seed: args.seed,
        duration,
        fakes_dir: args.fakes.clone(),
    };
    let scenario = match load_scenario(&args.scenario, &overrides) {
        Ok(s) => s,
        Err(e) => {
            eprint!("{}", e.render());
            if looks_like_runner_config(&args.scenario) {
                eprintln!(
                    "hint: {} looks like a GitLab Runner config.toml (it has [[runners]] and no [scenario]): check it with `simrun check {}`, or simulate it from a scenario whose [runner] config points at it (README \"Scenario format\")",
                    args.scenario.display(),
                    args.scenario.display()
                );
            }
            return EXIT_BAD_INPUT;
        }
    };
    let started = Instant::now();
    let bar = indicatif::ProgressBar::hidden();
    let show = !args.quiet;
    let progress = |fraction: f64| {
        if show && bar.is_hidden() && started.elapsed() > Duration::from_secs(1) {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.set_length(100);
            bar.set_message("simulating");
        }
        bar.set_position((fraction * 100.0) as u64);
    };
    let records = match simulate(
        &scenario,
        &RunOptions {
            progress: Some(&progress),
            skip_invariants: args.no_invariants,
            ..RunOptions::default()
        },
    ) {
        Ok(r) => r,
        Err(e) => {
            bar.finish_and_clear();
            eprintln!("error: {}: {e}", args.scenario.display());
            return EXIT_BAD_INPUT;
        }
    };
    bar.finish_and_clear();
    if args.no_invariants && !args.quiet {
        eprintln!("note: --no-invariants: invariant checks were off, violations are not reported");
    }
    let summary = summarize(&records);
    if let Some(dir) = &args.out
        && let Err(e) = write_outputs(dir, &records)
    {
        eprintln!("error: writing {}: {e}", dir.display());
        return EXIT_BAD_INPUT;
    }
    if !args.quiet {
        print!("{}", terminal_summary(&records, &summary));
        if let Some(dir) = &args.out {
            println!("outputs written to {}", dir.display());
        }
    }
    if records.violations.is_empty() {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    }
}

/// Whether `path` reads as a GitLab Runner config rather than a scenario: a `[[runners]]`
/// array and no `[scenario]` table (for the hint after a load error).
fn looks_like_runner_config(path: &std::path::Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    let Ok(doc) = text.parse::<toml::Table>() else {
        return false;
    };
    doc.contains_key("runners") && !doc.contains_key("scenario")
}
