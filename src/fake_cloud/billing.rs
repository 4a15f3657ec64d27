//! What a machine costs (cloud-faults §5, §7 `bill.*`).
//!
//! Two billing rules exist among the supported clouds:
//! - **per second with a minimum** (AWS, GCE, Azure, DigitalOcean since 2026-01-01): the
//!   lifetime is rounded **up** to whole seconds, then raised to the minimum (60 s for all four;
//!   §5). Rounding partial seconds up is our choice where §5 is silent.
//! - **per started hour** (Hetzner, DigitalOcean before 2026, OpenStack `[est]`): every started
//!   hour is billed in full, and a machine that existed at all is billed at least one hour.
//!
//! A machine's lifetime runs from `start` (the create call, §5: billing starts when the VM
//! exists) to `end` (when it is deleted). Amounts are in the price's currency; profiles convert
//! to USD with their `usd_rate`.

use crate::time::{SimDuration, SimTime};

/// Milliseconds per hour.
const HOUR_MS: u64 = 3_600_000;

/// A cloud's billing rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BillingMode {
    /// Per second (partial seconds rounded up), at least `minimum`.
    PerSecond {
        /// Minimum billed duration (60 s on AWS, GCE, Azure, DigitalOcean; §5).
        minimum: SimDuration,
    },
    /// Every started hour billed in full, at least one hour.
    PerStartedHour,
}

/// The duration billed for a machine that existed from `start` to `end` (zero-length and
/// reversed intervals count as zero lifetime, then get the mode's minimum).
pub fn billed_duration(start: SimTime, end: SimTime, mode: BillingMode) -> SimDuration {
    let life_ms = end.since(start).0;
    match mode {
        BillingMode::PerSecond { minimum } => {
            let secs_ms = life_ms.div_ceil(1000).saturating_mul(1000);
            SimDuration(secs_ms.max(minimum.0))
        }
        BillingMode::PerStartedHour => {
            let hours = life_ms.div_ceil(HOUR_MS).max(1);
            SimDuration(hours.saturating_mul(HOUR_MS))
        }
    }
}

/// Cost of one machine's lifetime: `billed_duration × price_per_hour`, at least
/// `minimum_charge` (DigitalOcean's $0.01, §5; 0 elsewhere). Same currency as the inputs.
pub fn lifetime_cost(
    start: SimTime,
    end: SimTime,
    price_per_hour: f64,
    mode: BillingMode,
    minimum_charge: f64,
) -> f64 {
    let billed = billed_duration(start, end, mode);
    // Whole seconds (or hours) × price/3600: exact enough for f64 over any realistic span.
    let cost = (billed.0 / 1000) as f64 * price_per_hour / 3600.0;
    cost.max(minimum_charge)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND_60: BillingMode = BillingMode::PerSecond {
        minimum: SimDuration(60_000),
    };

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn per_second_rounds_partial_seconds_up_and_applies_the_minimum() {
        let t = |ms| SimTime(ms);
        assert_eq!(
            billed_duration(t(0), t(90_400), SECOND_60),
            SimDuration(91_000)
        );
        assert_eq!(
            billed_duration(t(0), t(90_000), SECOND_60),
            SimDuration(90_000)
        );
        assert_eq!(
            billed_duration(t(5_000), t(35_000), SECOND_60),
            SimDuration(60_000)
        );
        assert_eq!(billed_duration(t(7), t(7), SECOND_60), SimDuration(60_000));
        // m5.large at $0.096/h (§5) for 90.4 s: 91 s × 0.096 / 3600 = $0.00242666…
        assert!(close(
            lifetime_cost(t(0), t(90_400), 0.096, SECOND_60, 0.0),
            0.002_426_666_666_666_667
        ));
        // A failed create after 30 s still costs the 60 s minimum: 60 × 0.096 / 3600 = $0.0016.
        assert!(close(
            lifetime_cost(t(0), t(30_000), 0.096, SECOND_60, 0.0),
            0.0016
        ));
        // Two hours of n1-standard-1 at $0.0475/h = $0.095.
        assert!(close(
            lifetime_cost(t(0), t(7_200_000), 0.0475, SECOND_60, 0.0),
            0.095
        ));
    }

    #[test]
    fn minimum_charge_applies_to_short_cheap_lives() {
        // DigitalOcean s-2vcpu-4gb at $0.03571/h for 60 s = $0.000595 < $0.01 minimum (§5).
        let c = lifetime_cost(SimTime(0), SimTime(60_000), 0.03571, SECOND_60, 0.01);
        assert!(close(c, 0.01));
        // 20 min = 1200 s × 0.03571 / 3600 = $0.011903… > $0.01.
        let c = lifetime_cost(SimTime(0), SimTime(1_200_000), 0.03571, SECOND_60, 0.01);
        assert!(close(c, 1200.0 * 0.03571 / 3600.0));
    }

    #[test]
    fn per_started_hour_bills_every_started_hour() {
        let m = BillingMode::PerStartedHour;
        let t = |ms| SimTime(ms);
        assert_eq!(billed_duration(t(0), t(0), m), SimDuration(3_600_000));
        assert_eq!(billed_duration(t(0), t(1), m), SimDuration(3_600_000));
        assert_eq!(
            billed_duration(t(0), t(3_600_000), m),
            SimDuration(3_600_000)
        );
        assert_eq!(
            billed_duration(t(0), t(3_600_001), m),
            SimDuration(7_200_000)
        );
        // Hetzner cpx31 at €0.021/h (§5), alive 61 minutes: 2 started hours = €0.042.
        assert!(close(
            lifetime_cost(t(600_000), t(600_000 + 61 * 60_000), 0.021, m, 0.0),
            0.042
        ));
    }

    #[test]
    fn reversed_intervals_cost_the_minimum_not_a_negative_amount() {
        assert_eq!(
            billed_duration(SimTime(10_000), SimTime(0), SECOND_60),
            SimDuration(60_000)
        );
    }
}
