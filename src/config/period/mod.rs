//! Autoscaling periods (spec §1.3 with §0 W4, W5, M14): gorhill/cronexpr expressions evaluated
//! in an IANA zone from the bundled database.
//!
//! NOTE: interface only; the matcher is being written on a branch (issue 2, item 3).

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// A compiled `Periods` list with its zone (spec §1.2–§1.3).
#[derive(Clone, Debug)]
pub struct Periods {
    zone: TimeZone,
    sources: Vec<String>,
}

/// Why a period list failed to compile (GitLab Runner: InvalidTimePeriodsError).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// Expression `index` of the list is invalid.
    #[error("invalid period {expr:?}: {reason}")]
    Expression {
        /// Position in `Periods`.
        index: usize,
        /// The expression as written.
        expr: String,
        /// What is wrong.
        reason: String,
    },
    /// The `Timezone` is not a known IANA zone.
    #[error("{reason}")]
    Zone {
        /// The zone as written.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

impl Periods {
    /// Compiles `exprs` in zone `timezone` (`""`/`"Local"` → `local`).
    pub fn compile(
        exprs: &[String],
        timezone: &str,
        local: &TimeZone,
    ) -> Result<Periods, PeriodError> {
        let zone = match timezone {
            "" | "Local" => local.clone(),
            name => crate::time::lookup_zone(name).map_err(|reason| PeriodError::Zone {
                name: name.to_string(),
                reason,
            })?,
        };
        Ok(Periods {
            zone,
            sources: exprs.to_vec(),
        })
    }

    /// Whether `now` is inside the periods (spec §1.3 in-period test).
    pub fn in_period(&self, _now: Timestamp) -> bool {
        let _ = (&self.zone, &self.sources);
        false
    }
}
