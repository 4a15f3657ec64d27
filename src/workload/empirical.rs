//! Empirical job durations: a CSV column of seconds, sampled uniformly (issue 4 §5).

use std::path::{Path, PathBuf};

use crate::random::SimRng;
use crate::random::dist::uniform_below;
use crate::time::SimDuration;

/// The durations read from one CSV column, sampled uniformly at random.
#[derive(Clone, Debug, PartialEq)]
pub struct EmpiricalDurations {
    /// The file the values came from.
    pub source: PathBuf,
    /// The values, in file order, rounded to whole milliseconds.
    pub values: Vec<SimDuration>,
}

impl EmpiricalDurations {
    /// Reads `column` (a header name; `None` = the file's only column) of the CSV file at
    /// `path`. The first row is the header. Cells hold durations in **seconds** (decimals
    /// allowed, e.g. `93.5`), surrounding spaces ignored.
    ///
    /// # Errors
    /// A message naming the file (and line and column for a bad cell): unreadable file,
    /// malformed CSV, unknown column, several columns without `column`, an empty or
    /// non-numeric, negative or non-finite cell, or no values at all.
    pub fn load(path: &Path, column: Option<&str>) -> Result<Self, String> {
        let shown = path.display();
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(path)
            .map_err(|e| format!("cannot read job durations from {shown}: {e}"))?;
        let headers = rdr
            .headers()
            .map_err(|e| format!("{shown}: bad CSV header: {e}"))?
            .clone();
        let names: Vec<&str> = headers.iter().map(str::trim).collect();
        let (col, col_name) = match column {
            Some(c) => match names.iter().position(|h| *h == c) {
                Some(i) => (i, c.to_string()),
                None => {
                    return Err(format!(
                        "{shown}: no column {c:?} (the header has {})",
                        quote_list(&names)
                    ));
                }
            },
            None if names.len() == 1 => (0, names[0].to_string()),
            None => {
                return Err(format!(
                    "{shown} has {} columns ({}): name one with `column`",
                    names.len(),
                    quote_list(&names)
                ));
            }
        };
        let mut values = Vec::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| format!("{shown}: {e}"))?;
            let line = rec.position().map_or(0, |p| p.line());
            let cell = rec.get(col).map(str::trim).unwrap_or("");
            let secs: f64 = cell.parse().map_err(|_| {
                format!(
                    "{shown} line {line}, column {col_name:?}: {cell:?} is not a number of seconds"
                )
            })?;
            if !secs.is_finite() || secs < 0.0 {
                return Err(format!(
                    "{shown} line {line}, column {col_name:?}: {cell:?} is not a duration ≥ 0 seconds"
                ));
            }
            values.push(SimDuration((secs * 1000.0).round() as u64));
        }
        if values.is_empty() {
            return Err(format!(
                "{shown}: column {col_name:?} has no values (only a header)"
            ));
        }
        Ok(EmpiricalDurations {
            source: path.to_path_buf(),
            values,
        })
    }

    /// One value, each row equally likely.
    pub fn sample(&self, rng: &mut SimRng) -> SimDuration {
        self.values[uniform_below(rng, self.values.len() as u64) as usize]
    }
}

fn quote_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}
