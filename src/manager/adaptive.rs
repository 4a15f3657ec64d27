//! Adaptive request concurrency (`FF_USE_ADAPTIVE_REQUEST_CONCURRENCY`, on by default;
//! spec §1.4 `request_concurrency`, §0 M3).

/// How a job request's request slot was released (spec §0 M3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestResult {
    /// The request returned a job that was accepted and marked running: × 1.1.
    GotJob,
    /// No job, not retried — including a failed Acquire or a failed session creation: × 0.95.
    NoJob,
    /// The HTTP layer saw a retriable status (408, 429, 500, 502, 503, 504, ≥ 512): × 0.5.
    /// Takes precedence over `GotJob`.
    Retried,
}

/// The adaptive factor of one runner.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdaptiveConcurrency {
    /// `request_concurrency` as used (≤ 0 → 1).
    pub max: i64,
    /// The factor; starts at 0, so the effective value starts at 1.
    pub factor: f64,
}

impl AdaptiveConcurrency {
    /// A runner with `request_concurrency` = `max` (already defaulted: ≥ 1).
    pub fn new(max: i64) -> Self {
        AdaptiveConcurrency {
            max: max.max(1),
            factor: 0.0,
        }
    }

    /// The number of concurrent job requests allowed now: `clamp(ceil(factor), 1, max)`.
    pub fn effective(&self) -> i64 {
        (self.factor.ceil() as i64).clamp(1, self.max)
    }

    /// Updates the factor after a request slot is released, then clamps it to `[1, max]`.
    pub fn record(&mut self, result: RequestResult) {
        let m = match result {
            RequestResult::GotJob => 1.1,
            RequestResult::NoJob => 0.95,
            RequestResult::Retried => 0.5,
        };
        self.factor = (self.factor * m).clamp(1.0, self.max as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_jobs_and_shrinks_without() {
        let mut a = AdaptiveConcurrency::new(4);
        assert_eq!(a.effective(), 1);
        a.record(RequestResult::GotJob);
        assert_eq!(a.factor, 1.0, "0 × 1.1 clamps to 1");
        a.record(RequestResult::GotJob);
        assert_eq!(a.effective(), 2, "ceil(1.1) = 2");
        for _ in 0..20 {
            a.record(RequestResult::GotJob);
        }
        assert_eq!(a.effective(), 4, "capped by request_concurrency");
        a.record(RequestResult::Retried);
        assert_eq!(a.effective(), 2);
        for _ in 0..40 {
            a.record(RequestResult::NoJob);
        }
        assert_eq!(a.effective(), 1);
        let mut one = AdaptiveConcurrency::new(0);
        one.record(RequestResult::GotJob);
        one.record(RequestResult::GotJob);
        assert_eq!(one.effective(), 1, "request_concurrency ≤ 0 means 1");
    }
}
