//! Reports built from a run's records (DESIGN.md principle 5 and "Outputs of a run"; issue 4
//! item 9): the terminal summary table and, with `--out DIR`, `summary.json` plus four CSV
//! files. Reports read [`RunRecords`] only, never the simulator's internals.
//!
//! Times are seconds since the scenario start with millisecond precision, formatted from
//! integer milliseconds (`12.345`); money is USD.

pub mod csv_out;
pub mod summary;
pub mod terminal;

#[cfg(test)]
mod fixture;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

pub use summary::{SUMMARY_SCHEMA_VERSION, Summary, summarize};
pub use terminal::terminal_summary;

use crate::sim::records::RunRecords;

/// File names written by [`write_outputs`], in writing order.
pub const OUTPUT_FILES: [&str; 5] = [
    "summary.json",
    "jobs.csv",
    "machines.csv",
    "timeline.csv",
    "events.csv",
];

/// Writes a run's output files into `dir` (created with its parents if missing; existing
/// files are overwritten): `summary.json` (pretty-printed, ends with a newline), `jobs.csv`,
/// `machines.csv`, `timeline.csv`, `events.csv` (issue 4 item 9). Same records → byte-identical
/// files.
///
/// Errors: the first I/O error creating the directory or writing a file (the error names the
/// file).
pub fn write_outputs(dir: &Path, r: &RunRecords) -> std::io::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| with_path(e, dir))?;
    let summary = summarize(r);
    let mut json = serde_json::to_string_pretty(&summary).map_err(std::io::Error::other)?;
    json.push('\n');
    write_file(dir, "summary.json", |w| w.write_all(json.as_bytes()))?;
    write_file(dir, "jobs.csv", |w| csv_out::write_jobs(w, &r.jobs))?;
    write_file(dir, "machines.csv", |w| {
        csv_out::write_machines(w, &r.machines)
    })?;
    write_file(dir, "timeline.csv", |w| {
        csv_out::write_timeline(w, &r.timeline)
    })?;
    write_file(dir, "events.csv", |w| csv_out::write_events(w, &r.events))?;
    Ok(())
}

/// Creates `dir/name`, runs `body` on a buffered writer, flushes; errors name the file.
fn write_file(
    dir: &Path,
    name: &str,
    body: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let path = dir.join(name);
    let run = || -> std::io::Result<()> {
        let mut w = BufWriter::new(File::create(&path)?);
        body(&mut w)?;
        w.flush()
    };
    run().map_err(|e| with_path(e, &path))
}

fn with_path(e: std::io::Error, path: &Path) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Seconds since the start with millisecond precision, `S.mmm`, from integer ms (never
/// through a float): `12345` → `12.345`.
pub fn fmt_ms(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// [`fmt_ms`], or the empty string for `None` (a point not reached).
pub fn fmt_opt_ms(ms: Option<u64>) -> String {
    ms.map(fmt_ms).unwrap_or_default()
}

/// USD with six decimals, rounded to 1e-6 (`-0` written as `0.000000`).
pub fn fmt_usd(x: f64) -> String {
    format!("{:.6}", summary::round_to(x, 1e6))
}
