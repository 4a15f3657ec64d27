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
    exprs: Vec<CronExpr>,
}

/// One period expression (interface only).
#[derive(Clone, Debug)]
pub struct CronExpr {
    source: String,
}

/// What loads but misbehaves in an expression.
#[derive(Clone, Debug, PartialEq)]
pub enum CronLint {
    /// 5 or 6 fields: seconds fixed to 0.
    SecondsFixed {
        /// 5 or 6.
        fields: usize,
    },
    /// `@hourly` etc.
    Alias {
        /// The alias.
        alias: String,
    },
    /// An empty day-of-week range.
    EmptyDayOfWeekRange {
        /// The token.
        token: String,
    },
    /// A reversed day-of-month range.
    EmptyDayOfMonthRange {
        /// The token.
        token: String,
    },
    /// A reversed second/minute/hour range (crashes GitLab Runner).
    ReversedTimeRange {
        /// The field.
        field: &'static str,
        /// The token.
        token: String,
    },
    /// Never matches.
    NeverMatches {
        /// Why.
        why: String,
    },
}

impl CronExpr {
    /// Parses an expression.
    pub fn parse(text: &str) -> Result<CronExpr, String> {
        Ok(CronExpr {
            source: text.to_string(),
        })
    }
    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }
    /// 5, 6 or 7.
    pub fn field_count(&self) -> usize {
        7
    }
    /// Lints.
    pub fn lints(&self) -> Vec<CronLint> {
        Vec::new()
    }
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
        let exprs = exprs
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
        Ok(Periods { zone, exprs })
    }

    /// Whether `now` is inside the periods (spec §1.3 in-period test).
    pub fn in_period(&self, _now: Timestamp) -> bool {
        let _ = (&self.zone, &self.exprs);
        false
    }

    /// The compiled expressions.
    pub fn expressions(&self) -> &[CronExpr] {
        &self.exprs
    }

    /// The zone the expressions are evaluated in.
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }
}
