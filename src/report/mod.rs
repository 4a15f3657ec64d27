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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    /// A fresh directory under the system temp dir, unique per process and test.
    fn temp_dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("simrun-report-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn read_all(dir: &Path) -> Vec<(String, Vec<u8>)> {
        OUTPUT_FILES
            .iter()
            .map(|f| {
                let bytes = std::fs::read(dir.join(f)).expect("output file");
                (f.to_string(), bytes)
            })
            .collect()
    }

    #[test]
    fn ms_formatting_is_integer_based() {
        assert_eq!(fmt_ms(0), "0.000");
        assert_eq!(fmt_ms(12_345), "12.345");
        assert_eq!(fmt_ms(7), "0.007");
        assert_eq!(fmt_ms(86_400_000), "86400.000");
        assert_eq!(fmt_ms(u64::MAX), "18446744073709551.615");
        assert_eq!(fmt_opt_ms(None), "");
        assert_eq!(fmt_usd(-0.0), "0.000000");
        assert_eq!(fmt_usd(0.0000004), "0.000000");
        assert_eq!(fmt_usd(1.0000005), "1.000001");
    }

    #[test]
    fn write_outputs_writes_five_files() {
        let dir = temp_dir("five").join("nested");
        let r = fixture::records();
        write_outputs(&dir, &r).expect("write");
        let files = read_all(&dir);
        let summary = String::from_utf8(files[0].1.clone()).expect("utf-8");
        assert!(summary.ends_with("}\n"), "trailing newline");
        assert_eq!(
            summary,
            format!(
                "{}\n",
                serde_json::to_string_pretty(&summarize(&r)).expect("json")
            )
        );
        let back: Summary = serde_json::from_str(&summary).expect("summary.json reads back");
        assert_eq!(back.schema_version, SUMMARY_SCHEMA_VERSION);
        assert_eq!(back.jobs, summarize(&r).jobs);
        for (name, bytes) in &files[1..] {
            let text = String::from_utf8(bytes.clone()).expect("utf-8");
            assert!(text.lines().count() >= 2, "{name} has header and rows");
        }
        let jobs = String::from_utf8(files[1].1.clone()).expect("utf-8");
        assert!(
            jobs.starts_with("id,runner,arrival_s,start_s,end_s,machine,outcome,failure_reason\n")
        );
        let _ = std::fs::remove_dir_all(temp_dir("five"));
    }

    #[test]
    fn same_records_give_identical_bytes() {
        let (a, b) = (temp_dir("det-a"), temp_dir("det-b"));
        write_outputs(&a, &fixture::records()).expect("write a");
        write_outputs(&b, &fixture::records()).expect("write b");
        let (fa, fb) = (read_all(&a), read_all(&b));
        assert_eq!(fa, fb);
        // Writing again over existing files gives the same bytes too.
        write_outputs(&a, &fixture::records()).expect("rewrite a");
        assert_eq!(read_all(&a), fb);
        // A different run gives a different summary.
        let mut other = fixture::records();
        other.seed = 43;
        write_outputs(&b, &other).expect("write other");
        assert_ne!(read_all(&b)[0], fa[0]);
        let _ = std::fs::remove_dir_all(&a);
        let _ = std::fs::remove_dir_all(&b);
    }

    #[test]
    fn write_outputs_error_names_the_path() {
        let base = temp_dir("err");
        std::fs::create_dir_all(&base).expect("mkdir");
        let file = base.join("not-a-dir");
        std::fs::write(&file, b"x").expect("file");
        let err = write_outputs(&file.join("out"), &fixture::records()).expect_err("must fail");
        assert!(err.to_string().contains("not-a-dir"), "{err}");
        let _ = std::fs::remove_dir_all(&base);
    }
}
