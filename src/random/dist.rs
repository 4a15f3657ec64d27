//! Duration distributions in integer milliseconds, sampled from a [`SimRng`](crate::random::SimRng) stream, and their
//! TOML form (used by fake-cloud profiles, cloud-faults §4, and by workloads' job durations).
//!
//! TOML forms (durations are simrun duration strings, [`crate::time::parse_duration`]):
//! - `"1500ms"` — shorthand for a fixed duration;
//! - `{ dist = "fixed", value = "1s" }`;
//! - `{ dist = "uniform", min = "3s", max = "12s" }` — every millisecond in `[min, max]`
//!   equally likely;
//! - `{ dist = "lognormal", median = "20s", p95 = "45s" }`, optionally `shift = "35s"`: the
//!   sample is `shift + X` with `X` lognormal, and `median`/`p95` describe the **total**
//!   (`shift` included), which is how cloud-faults §4 states its numbers (e.g. DigitalOcean's
//!   "60 s / 110 s incl. fixed 35 s"). With `m = median − shift`, `q = p95 − shift`:
//!   `mu = ln(m)`, `sigma = (ln(q) − ln(m)) / 1.6448536269514722` (the standard normal's 95th
//!   percentile), so that the lognormal's median is `m` and its 95th percentile is `q`.
//!
//! All sampling here is our own arithmetic on `next_u64` outputs (Box–Muller for the normal,
//! rejection for bounded integers), so values depend only on the ChaCha stream, never on
//! `rand`/`rand_distr` algorithm changes. Samples are rounded to whole milliseconds.

use std::fmt;

use rand::RngCore;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::time::{SimDuration, parse_duration};

/// z-score of the standard normal distribution's 95th percentile.
pub const Z95: f64 = 1.644_853_626_951_472_2;

/// A distribution of durations (ms). Construct through serde or [`Dist::lognormal`] etc.,
/// which validate the parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    /// Always `value`.
    Fixed {
        /// The duration.
        value: SimDuration,
    },
    /// Uniform over the whole milliseconds in `[min, max]`.
    Uniform {
        /// Smallest value.
        min: SimDuration,
        /// Largest value (≥ `min`).
        max: SimDuration,
    },
    /// `shift + lognormal`, with the total's median and 95th percentile given.
    LogNormal {
        /// Median of the total (> `shift`).
        median: SimDuration,
        /// 95th percentile of the total (≥ `median`; equal means no spread).
        p95: SimDuration,
        /// Constant part added to every sample (default 0).
        shift: SimDuration,
    },
}

/// Invalid distribution parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DistError(pub String);

impl Dist {
    /// A fixed duration.
    pub fn fixed(value: SimDuration) -> Dist {
        Dist::Fixed { value }
    }

    /// Uniform over `[min, max]` ms.
    ///
    /// # Errors
    /// `max < min`.
    pub fn uniform(min: SimDuration, max: SimDuration) -> Result<Dist, DistError> {
        if max < min {
            return Err(DistError(format!(
                "uniform: max ({max}) is less than min ({min})"
            )));
        }
        Ok(Dist::Uniform { min, max })
    }

    /// `shift + lognormal` whose total has the given median and 95th percentile.
    ///
    /// # Errors
    /// `median ≤ shift`, or `p95 < median`.
    pub fn lognormal(
        median: SimDuration,
        p95: SimDuration,
        shift: SimDuration,
    ) -> Result<Dist, DistError> {
        if median <= shift {
            return Err(DistError(format!(
                "lognormal: median ({median}) must be greater than shift ({shift}) and than 0"
            )));
        }
        if p95 < median {
            return Err(DistError(format!(
                "lognormal: p95 ({p95}) is less than median ({median})"
            )));
        }
        Ok(Dist::LogNormal { median, p95, shift })
    }

    /// `(mu, sigma)` of the lognormal part, in ln-milliseconds (see the module docs).
    fn lognormal_params(median: SimDuration, p95: SimDuration, shift: SimDuration) -> (f64, f64) {
        let m = (median.0 - shift.0) as f64;
        let q = (p95.0 - shift.0) as f64;
        let mu = m.ln();
        (mu, (q.ln() - mu) / Z95)
    }

    /// Draws one duration.
    pub fn sample<R: RngCore + ?Sized>(&self, rng: &mut R) -> SimDuration {
        match *self {
            Dist::Fixed { value } => value,
            Dist::Uniform { min, max } => {
                SimDuration(min.0 + uniform_below(rng, max.0 - min.0 + 1))
            }
            Dist::LogNormal { median, p95, shift } => {
                let (mu, sigma) = Self::lognormal_params(median, p95, shift);
                let x = (mu + sigma * standard_normal(rng)).exp();
                SimDuration(shift.0.saturating_add(round_ms(x)))
            }
        }
    }

    /// The distribution's median (ms), exact for all three forms (uniform: the midpoint,
    /// rounded down).
    pub fn median(&self) -> SimDuration {
        match *self {
            Dist::Fixed { value } => value,
            Dist::Uniform { min, max } => SimDuration(min.0 + (max.0 - min.0) / 2),
            Dist::LogNormal { median, .. } => median,
        }
    }
}

/// Rounds a non-negative float of milliseconds to whole ms, saturating (NaN → 0).
fn round_ms(x: f64) -> u64 {
    if x.is_nan() || x <= 0.0 {
        0
    } else if x >= u64::MAX as f64 {
        u64::MAX
    } else {
        x.round() as u64
    }
}

/// A float uniform in `[0, 1)` with 53 random bits.
pub fn unit_f64<R: RngCore + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A standard normal draw (Box–Muller, cosine branch; uses two `u64`s).
pub fn standard_normal<R: RngCore + ?Sized>(rng: &mut R) -> f64 {
    let u1 = 1.0 - unit_f64(rng); // (0, 1]: ln is finite
    let u2 = unit_f64(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// An exponential draw with mean `mean` (inverse CDF).
pub fn exponential<R: RngCore + ?Sized>(rng: &mut R, mean: f64) -> f64 {
    -(1.0 - unit_f64(rng)).ln() * mean
}

/// A uniform integer in `[0, n)` without modulo bias (rejection sampling); `n = 0` gives 0.
pub fn uniform_below<R: RngCore + ?Sized>(rng: &mut R, n: u64) -> u64 {
    if n <= 1 {
        return 0;
    }
    // Reject the top partial block so every residue is equally likely.
    let zone = u64::MAX - (u64::MAX % n + 1) % n;
    loop {
        let x = rng.next_u64();
        if x <= zone {
            return x % n;
        }
    }
}

/// The raw TOML table of a distribution; shared with workloads, which add `empirical`.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDist {
    pub dist: String,
    pub value: Option<String>,
    pub min: Option<String>,
    pub max: Option<String>,
    pub median: Option<String>,
    pub p95: Option<String>,
    pub shift: Option<String>,
    pub file: Option<String>,
    pub column: Option<String>,
}

fn field(dist: &str, name: &str, v: &Option<String>) -> Result<SimDuration, DistError> {
    match v {
        None => Err(DistError(format!("dist = \"{dist}\" needs `{name}`"))),
        Some(s) => parse_duration(s).map_err(|e| DistError(format!("`{name}`: {e}"))),
    }
}

impl RawDist {
    /// Converts to a [`Dist`]; `extra_kinds` names further `dist` values the caller accepts
    /// (for the error message only).
    pub(crate) fn into_dist(self, extra_kinds: &str) -> Result<Dist, DistError> {
        let d = self.dist.as_str();
        let allowed: &[&str] = match d {
            "fixed" => &["value"],
            "uniform" => &["min", "max"],
            "lognormal" => &["median", "p95", "shift"],
            other => {
                return Err(DistError(format!(
                    "unknown dist {other:?} (expected \"fixed\", \"uniform\", \"lognormal\"{extra_kinds})"
                )));
            }
        };
        let present = [
            ("value", self.value.is_some()),
            ("min", self.min.is_some()),
            ("max", self.max.is_some()),
            ("median", self.median.is_some()),
            ("p95", self.p95.is_some()),
            ("shift", self.shift.is_some()),
            ("file", self.file.is_some()),
            ("column", self.column.is_some()),
        ];
        if let Some((k, _)) = present.iter().find(|(k, p)| *p && !allowed.contains(k)) {
            return Err(DistError(format!(
                "`{k}` is not a parameter of dist = \"{d}\" (expected {})",
                allowed
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        match d {
            "fixed" => Ok(Dist::fixed(field(d, "value", &self.value)?)),
            "uniform" => Dist::uniform(field(d, "min", &self.min)?, field(d, "max", &self.max)?),
            _ => {
                let shift = match &self.shift {
                    None => SimDuration::ZERO,
                    Some(_) => field(d, "shift", &self.shift)?,
                };
                Dist::lognormal(
                    field(d, "median", &self.median)?,
                    field(d, "p95", &self.p95)?,
                    shift,
                )
            }
        }
    }
}

/// Deserialises either a duration string (fixed) or a table into a `T` built by `from_raw`.
pub(crate) fn deserialize_dist_like<'de, D, T>(
    deserializer: D,
    expecting: &'static str,
    from_raw: fn(RawDist) -> Result<T, DistError>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct V<T> {
        expecting: &'static str,
        from_raw: fn(RawDist) -> Result<T, DistError>,
    }
    impl<'de, T> Visitor<'de> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
            (self.from_raw)(RawDist {
                dist: "fixed".into(),
                value: Some(s.to_string()),
                ..RawDist::default()
            })
            .map_err(E::custom)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            let raw = RawDist::deserialize(de::value::MapAccessDeserializer::new(map))?;
            (self.from_raw)(raw).map_err(de::Error::custom)
        }
    }
    deserializer.deserialize_any(V {
        expecting,
        from_raw,
    })
}

impl<'de> Deserialize<'de> for Dist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_dist_like(
            d,
            "a duration string like \"90s\" or a table like { dist = \"lognormal\", median = \"20s\", p95 = \"45s\" }",
            |raw| raw.into_dist(""),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::RngStreams;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Holder {
        d: Dist,
    }

    fn parse(s: &str) -> Result<Dist, String> {
        toml::from_str::<Holder>(s)
            .map(|h| h.d)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(parse(r#"d = "1500ms""#), Ok(Dist::fixed(SimDuration(1500))));
        assert_eq!(
            parse(r#"d = { dist = "fixed", value = "2s" }"#),
            Ok(Dist::fixed(SimDuration(2000)))
        );
        assert_eq!(
            parse(r#"d = { dist = "uniform", min = "3s", max = "12s" }"#),
            Ok(Dist::Uniform {
                min: SimDuration(3000),
                max: SimDuration(12000)
            })
        );
        assert_eq!(
            parse(r#"d = { dist = "lognormal", median = "60s", p95 = "110s", shift = "35s" }"#),
            Ok(Dist::LogNormal {
                median: SimDuration(60_000),
                p95: SimDuration(110_000),
                shift: SimDuration(35_000)
            })
        );
    }

    #[test]
    fn bad_distributions_are_explained() {
        let e = parse(r#"d = { dist = "normal", median = "1s" }"#).unwrap_err();
        assert!(e.contains("unknown dist \"normal\""), "{e}");
        let e = parse(r#"d = { dist = "lognormal", median = "1s" }"#).unwrap_err();
        assert!(e.contains("needs `p95`"), "{e}");
        let e = parse(r#"d = { dist = "lognormal", median = "10s", p95 = "5s" }"#).unwrap_err();
        assert!(e.contains("p95 (5s) is less than median (10s)"), "{e}");
        let e = parse(r#"d = { dist = "uniform", min = "5s", max = "1s" }"#).unwrap_err();
        assert!(e.contains("max (1s) is less than min (5s)"), "{e}");
        let e = parse(r#"d = { dist = "fixed", value = "5" }"#).unwrap_err();
        assert!(e.contains("`value`: invalid duration \"5\""), "{e}");
        let e = parse(r#"d = { dist = "fixed", value = "5s", median = "1s" }"#).unwrap_err();
        assert!(
            e.contains("`median` is not a parameter of dist = \"fixed\""),
            "{e}"
        );
        let e = parse(r#"d = { dist = "fixed", valeu = "5s" }"#).unwrap_err();
        assert!(e.contains("valeu"), "{e}");
        let e = parse(r#"d = { dist = "lognormal", median = "30s", p95 = "60s", shift = "30s" }"#)
            .unwrap_err();
        assert!(e.contains("greater than shift"), "{e}");
        let e = parse("d = 5").unwrap_err();
        assert!(e.contains("a duration string"), "{e}");
        let e = parse(r#"d = { dist = "empirical", file = "x.csv" }"#).unwrap_err();
        assert!(e.contains("unknown dist \"empirical\""), "{e}");
    }

    #[test]
    fn uniform_stays_in_range_and_hits_both_ends() {
        let d = Dist::uniform(SimDuration(10), SimDuration(13)).unwrap();
        let mut rng = RngStreams::new(1).stream("t");
        let mut seen = [0u32; 4];
        for _ in 0..4000 {
            let v = d.sample(&mut rng).0;
            assert!((10..=13).contains(&v));
            seen[(v - 10) as usize] += 1;
        }
        // Each value expected 1000 times (binomial sd ≈ 27): all well within 850..1150.
        assert!(seen.iter().all(|&c| (850..1150).contains(&c)), "{seen:?}");
    }

    fn quantile(sorted: &[u64], p: f64) -> f64 {
        sorted[((sorted.len() as f64 - 1.0) * p).round() as usize] as f64
    }

    #[test]
    fn lognormal_matches_its_median_and_p95() {
        // 40 000 draws. The lognormal part has sigma = ln(75 s / 25 s)/1.645 ≈ 0.668; its sample
        // median's ln has sd ≈ sqrt(pi/2)·sigma/sqrt(n) ≈ 0.0042 (±2 % at 5 sd) and the p95's
        // ln has sd ≈ sigma·sqrt(.05·.95)/(phi(1.645)·sqrt(n)) ≈ 0.0071 (±3.6 % at 5 sd), on the
        // shifted part; the shift only shrinks the relative error of the total.
        let d = Dist::lognormal(
            SimDuration::from_secs(60),
            SimDuration::from_secs(110),
            SimDuration::from_secs(35),
        )
        .unwrap();
        let mut rng = RngStreams::new(7).stream("lognormal");
        let mut v: Vec<u64> = (0..40_000).map(|_| d.sample(&mut rng).0).collect();
        v.sort_unstable();
        assert!(v[0] >= 35_000, "never below the shift");
        let med = quantile(&v, 0.5);
        let p95 = quantile(&v, 0.95);
        assert!((med / 60_000.0 - 1.0).abs() < 0.02, "median {med}");
        assert!((p95 / 110_000.0 - 1.0).abs() < 0.036, "p95 {p95}");
    }

    #[test]
    fn lognormal_with_equal_median_and_p95_is_constant() {
        let d = Dist::lognormal(SimDuration(5000), SimDuration(5000), SimDuration::ZERO).unwrap();
        let mut rng = RngStreams::new(3).stream("x");
        assert!((0..100).all(|_| d.sample(&mut rng) == SimDuration(5000)));
    }

    #[test]
    fn uniform_below_is_unbiased_for_awkward_n() {
        // n = 3 does not divide 2^64; check counts are balanced (sd ≈ 47 for 9000 draws).
        let mut rng = RngStreams::new(9).stream("idx");
        let mut c = [0u32; 3];
        for _ in 0..9000 {
            c[uniform_below(&mut rng, 3) as usize] += 1;
        }
        assert!(c.iter().all(|&x| (2800..3200).contains(&x)), "{c:?}");
        assert_eq!(uniform_below(&mut rng, 0), 0);
        assert_eq!(uniform_below(&mut rng, 1), 0);
    }
}
