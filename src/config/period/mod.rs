//! Autoscaling periods (spec §1.2, §1.3 with §0 W4, W5, M14, quirk Q5): gorhill/cronexpr
//! expressions (pinned 88b0669f7d75) evaluated in an IANA zone from the bundled database.
//!
//! * `cron`: the expression syntax and the wall-clock matcher ([`CronExpr`]).
//! * `field`: the token grammar of one field.
//! * `lint`: what loads but misbehaves ([`CronLint`]).
//! * `instant`: GitLab Runner's in-period test, daylight-saving changes included.
//!
//! Everything here is re-implemented from the spec's prose and from documented facts about
//! gorhill/cronexpr and Go's `time.Date`; where the library has quirks (zero-padded month names,
//! `*` ending a field early, reversed ranges) they are modelled, not fixed.

mod cron;
mod field;
mod instant;
mod lint;

#[cfg(test)]
mod tests;

use jiff::Timestamp;
use jiff::tz::TimeZone;

pub use cron::CronExpr;
pub use lint::CronLint;

/// A compiled `Periods` list with its zone (spec §1.2–§1.3): an autoscaling entry is active
/// when **any** expression's in-period test passes; an empty list is never active.
#[derive(Clone, Debug)]
pub struct Periods {
    zone: TimeZone,
    changes: instant::ZoneChanges,
    exprs: Vec<CronExpr>,
}

/// Why a period list failed to compile (GitLab Runner: InvalidTimePeriodsError, "compiling
/// docker machine autoscaling periods", spec §1.1).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// Expression `index` of the list is invalid.
    #[error("invalid period {expr:?}: {reason}")]
    Expression {
        /// Position in `Periods` (0-based).
        index: usize,
        /// The expression as written.
        expr: String,
        /// What is wrong (from [`CronExpr::parse`]).
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
    /// Compiles `exprs` (as written) in zone `timezone`.
    ///
    /// `""` and `"Local"` mean `local`: the caller's zone (a scenario's `timezone`), never the
    /// host's (DESIGN.md "Time and calendar"). Any other name goes through
    /// [`crate::time::lookup_zone`] (bundled database, case-sensitive names, spec §1.3).
    /// The expressions are checked first, in order, then the zone.
    ///
    /// # Errors
    /// [`PeriodError::Expression`] for the first expression that does not parse (spec §5.7
    /// case 122), [`PeriodError::Zone`] for an unknown zone (case 132).
    pub fn compile(
        exprs: &[String],
        timezone: &str,
        local: &TimeZone,
    ) -> Result<Periods, PeriodError> {
        let compiled = exprs
            .iter()
            .enumerate()
            .map(|(index, e)| {
                CronExpr::parse(e).map_err(|reason| PeriodError::Expression {
                    index,
                    expr: e.clone(),
                    reason,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let zone = match timezone {
            "" | "Local" => local.clone(),
            name => crate::time::lookup_zone(name).map_err(|reason| PeriodError::Zone {
                name: name.to_string(),
                reason,
            })?,
        };
        Ok(Periods {
            changes: instant::ZoneChanges::new(&zone),
            zone,
            exprs: compiled,
        })
    }

    /// The spec §1.3 in-period test at instant `now` (W4): active iff, for some expression,
    /// the first wall-clock match strictly after the current whole second of `now` in the zone,
    /// placed as an instant by Go's `time.Date` rule, is within 1 s of `now`.
    ///
    /// Away from daylight-saving changes this is "the wall clock of `floor(now) + 1 s`
    /// matches": for `* * 10-17 * * * *`, 09:59:59.000 is inside, 17:59:58.9 inside,
    /// 17:59:59.000 outside, 09:59:58.999 outside; a 5- or 6-field expression is active only
    /// in the second before each matching minute (Q5). Around changes see the `instant`
    /// module doc (spring-forward gap times count as the post-change hour; during the first
    /// pass of a repeated fall-back hour, and the second before it, nothing is active).
    ///
    /// An empty list is never active. Cheap: no allocation; see the `instant` module doc.
    pub fn in_period(&self, now: Timestamp) -> bool {
        instant::in_period(&self.exprs, &self.zone, &self.changes, now)
    }

    /// The compiled expressions, in the order written.
    pub fn expressions(&self) -> &[CronExpr] {
        &self.exprs
    }

    /// The zone the expressions are evaluated in.
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }
}
