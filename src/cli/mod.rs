//! The `simrun` command line (clap). Subcommands live in their own modules; `main.rs` only
//! calls [`main`]. Exit codes: 0 ok, 1 findings (e.g. invariant violations), 2 bad input.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod check;
pub mod run;

/// Exit code for success.
pub const EXIT_OK: u8 = 0;
/// Exit code when a run finished but found problems (invariant violations, a failed gate).
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code for bad input (unreadable or invalid files, bad arguments).
pub const EXIT_BAD_INPUT: u8 = 2;

/// Simulate and test GitLab Runner docker+machine autoscaling, deterministically.
#[derive(Debug, Parser)]
#[command(
    name = "simrun",
    version,
    about,
    long_about = None,
    after_help = "Examples:\n  simrun scenarios/burst.toml --out out/burst\n  simrun check /etc/gitlab-runner/config.toml\n\nExit codes: 0 clean run / the config loads; 1 the run found invariant violations; 2 bad input\n(a config GitLab Runner would refuse, an invalid scenario, bad arguments; the first line of\nthe error names file, line, column and key).\n`simrun run` writes summary.json, events.csv, jobs.csv, machines.csv and timeline.csv to --out."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Simulate a scenario (`simrun SCENARIO` is short for `simrun run SCENARIO`).
    Run(run::RunArgs),
    /// Load a GitLab Runner config.toml as GitLab Runner does, report errors and warnings, and
    /// show each autoscaling runner's effective settings and its week of idle settings.
    Check(check::CheckArgs),
}

/// Parses the command line and runs the subcommand.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(with_default_subcommand(std::env::args_os().collect())) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                EXIT_BAD_INPUT
            } else {
                EXIT_OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let code = match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Run(args) => run::run(&args),
    };
    ExitCode::from(code)
}

/// `simrun SCENARIO …` means `simrun run SCENARIO …`: inserts `run` when the first argument is
/// neither a subcommand nor an option.
fn with_default_subcommand(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    const SUBCOMMANDS: [&str; 3] = ["run", "check", "help"];
    if let Some(first) = args.get(1).and_then(|a| a.to_str())
        && !first.starts_with('-')
        && !SUBCOMMANDS.contains(&first)
    {
        args.insert(1, "run".into());
    }
    args
}
