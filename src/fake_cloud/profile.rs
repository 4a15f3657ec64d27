//! The fake-cloud profile: a TOML file in `fakes/` describing one cloud as seen through its
//! docker-machine driver — call latencies, create stages, provisioning failures and billing
//! (issue 4 §4; numbers and sources from `cloud-faults.md`, cited in each shipped file).
//!
//! Format (every table and key is required unless marked optional; unknown keys are errors, so
//! a typo never silently falls back to a default):
//!
//! ```toml
//! name = "aws-ec2"
//! driver = "amazonec2"                         # the docker-machine driver this cloud backs
//! description = "..."                          # optional
//! provisioning_failure_probability = 0.017     # per create, fails after docker_install
//!
//! [create]                                     # `docker-machine create`, stage by stage
//! api_call = { dist = "lognormal", median = "1500ms", p95 = "2s" }
//! boot = { dist = "lognormal", median = "18500ms", p95 = "43500ms" }
//! ssh_wait = { dist = "lognormal", median = "25s", p95 = "60s" }
//! provision = { dist = "lognormal", median = "10s", p95 = "40s" }
//! docker_install = { dist = "lognormal", median = "45s", p95 = "100s" }
//! certs = { dist = "lognormal", median = "15s", p95 = "35s" }
//!
//! [calls]                                      # the other timed docker-machine commands
//! stop = "1s"
//! rm = { dist = "lognormal", median = "2s", p95 = "8s" }
//! rm_force = { dist = "lognormal", median = "2s", p95 = "8s" }
//! config = { dist = "lognormal", median = "500ms", p95 = "2500ms" }
//! credentials = { dist = "lognormal", median = "1s", p95 = "4s" }
//!
//! [billing]
//! currency = "USD"
//! usd_rate = 1.0                               # USD per unit of `currency`
//! mode = "per_second"                          # or "per_started_hour"
//! minimum = "60s"                              # per_second only
//! minimum_charge = 0.0                         # optional, in `currency`
//! fallback_price_per_hour = 0.10               # for instance types not in `prices`
//! spot_price_ratio = 0.35                      # optional; spot price = ratio × on-demand
//!
//! [billing.prices]                             # per hour, in `currency`
//! "m5.large" = { per_hour = 0.096, vcpus = 2 }
//! "t2.micro" = { per_hour = 0.0116, vcpus = 1, estimated = true }
//! ```
//!
//! Durations use the [`Dist`] forms. The create stages run in order (cloud-faults §1.1):
//! `api_call` (pre-create checks and the cloud's create call; driver-level errors such as
//! quota or capacity surface at its end), `boot` (rest of the driver's `Create`, until the VM
//! runs), `ssh_wait` (libmachine's SSH wait, fork polling included), `provision` (hostname,
//! `apt-get update`, curl), `docker_install` (the get.docker.com script), `certs` (certificates,
//! daemon options, restarts, the TLS check). `calls.config` is `docker-machine config` (GitLab
//! Runner's CanConnect), `calls.credentials` is `config` + `url` + a local `inspect` (§1.3).
//!
//! Optional tables for fault injection (issue 5): `[api_calls]` and `[rate_limits]` (see
//! [`super::api`]), `[quotas]`, `[capacity]`, `[spot]` and `[orphans]` (see [`super::account`]).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::account::{CapacitySpec, OrphanSpec, Quotas, SpotSpec};
use super::api::{ApiCalls, RateLimits};
use super::billing::{self, BillingMode};
use super::options::MachineSpec;
use crate::random::dist::Dist;
use crate::time::{SimDuration, SimTime, parse_duration};

/// One cloud profile (see the module docs for the TOML form).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The profile's name (normally the file stem, e.g. `aws-ec2`).
    pub name: String,
    /// The docker-machine driver name (amazonec2, google, digitalocean, hetzner, azure,
    /// openstack).
    pub driver: String,
    /// Free text for reports.
    #[serde(default)]
    pub description: String,
    /// Probability (0–1) that a create fails at provisioning after the VM exists (the sum of
    /// cloud-faults §3/§7's `prov.*` and `ssh.blackhole_p` rates by default).
    pub provisioning_failure_probability: f64,
    /// Stage timings of `docker-machine create`.
    pub create: CreateStages,
    /// Timings of the other docker-machine commands.
    pub calls: CallLatencies,
    /// Prices and the billing rule.
    pub billing: BillingSpec,
    /// API calls per docker-machine step (cloud-faults §2, §7 `api.*`); absent = none counted.
    pub api_calls: Option<ApiCalls>,
    /// Rate limits and the driver's reaction (cloud-faults §2, §7 `rl.*`); absent = none.
    pub rate_limits: Option<RateLimits>,
    /// Instance / vCPU quotas and their errors (cloud-faults §2, §8).
    #[serde(default)]
    pub quotas: Quotas,
    /// The insufficient-capacity error and the stockout episodes (cloud-faults §2, §7, §8).
    #[serde(default)]
    pub capacity: CapacitySpec,
    /// Spot interruptions (cloud-faults §6).
    #[serde(default)]
    pub spot: SpotSpec,
    /// What failed creates and removals leave behind (cloud-faults §1.4).
    #[serde(default)]
    pub orphans: OrphanSpec,
}

/// Durations of the `docker-machine create` stages, in the order they run (cloud-faults §1.1,
/// §4 "Default model").
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateStages {
    /// Pre-create checks and the cloud's create call.
    pub api_call: Dist,
    /// The rest of the driver's `Create`, until the cloud reports the VM running.
    pub boot: Dist,
    /// Waiting for SSH (libmachine step 7, fork polling included).
    pub ssh_wait: Dist,
    /// Provisioner start: hostname, `apt-get update`, curl.
    pub provision: Dist,
    /// The Docker install script.
    pub docker_install: Dist,
    /// Certificates, daemon configuration, restarts, TLS check.
    pub certs: Dist,
}

impl CreateStages {
    /// The stages in execution order, with their names.
    pub fn in_order(&self) -> [(&'static str, &Dist); 6] {
        [
            ("api_call", &self.api_call),
            ("boot", &self.boot),
            ("ssh_wait", &self.ssh_wait),
            ("provision", &self.provision),
            ("docker_install", &self.docker_install),
            ("certs", &self.certs),
        ]
    }
}

/// Durations of the other timed docker-machine commands (cloud-faults §1.3, §4).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallLatencies {
    /// `docker-machine stop` (GitLab Runner gives it 1 min).
    pub stop: Dist,
    /// `docker-machine rm -y`.
    pub rm: Dist,
    /// `docker-machine rm -f`.
    pub rm_force: Dist,
    /// `docker-machine config` (CanConnect).
    pub config: Dist,
    /// `config` + `url` + `inspect` (Credentials).
    pub credentials: Dist,
}

/// The billing section as written in the profile.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingSpec {
    /// ISO 4217 code of the prices (`USD`, `EUR`).
    pub currency: String,
    /// USD per one unit of `currency` (1.0 for USD).
    pub usd_rate: f64,
    /// `per_second` or `per_started_hour`.
    pub mode: BillingModeName,
    /// Minimum billed duration for `per_second` (a duration string).
    pub minimum: Option<String>,
    /// Minimum charge per machine in `currency` (DigitalOcean: 0.01; §5).
    #[serde(default)]
    pub minimum_charge: f64,
    /// Price per hour in `currency` for instance types missing from `prices`.
    pub fallback_price_per_hour: f64,
    /// Spot/preemptible price as a fraction of on-demand; absent = no spot pricing (the
    /// on-demand price is billed).
    pub spot_price_ratio: Option<f64>,
    /// On-demand price per instance type.
    pub prices: BTreeMap<String, Price>,
}

/// Billing rule names in TOML.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingModeName {
    /// Per second with a minimum.
    PerSecond,
    /// Every started hour.
    PerStartedHour,
}

/// One price-table row.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// On-demand price per hour, in the profile's currency.
    pub per_hour: f64,
    /// The price is our estimate (cloud-faults `[est]`), not a sourced list price.
    #[serde(default)]
    pub estimated: bool,
    /// vCPUs of the type (for the quotas of issue 5); optional.
    pub vcpus: Option<u32>,
}

/// Where a machine's price came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceSource {
    /// The profile's price table; `estimated` as marked there.
    Table {
        /// Marked `estimated = true`.
        estimated: bool,
    },
    /// Not in the table: `fallback_price_per_hour` (callers should warn once per type).
    Fallback,
}

/// The hourly price of one machine.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PriceQuote {
    /// USD per hour, spot ratio applied.
    pub usd_per_hour: f64,
    /// Table or fallback.
    pub source: PriceSource,
    /// The spot ratio was applied.
    pub spot: bool,
}

impl BillingSpec {
    /// The billing rule.
    ///
    /// # Errors
    /// A bad `minimum`, or a `minimum` with `per_started_hour`.
    pub fn mode(&self) -> Result<BillingMode, String> {
        match (self.mode, &self.minimum) {
            (BillingModeName::PerSecond, None) => Ok(BillingMode::PerSecond {
                minimum: SimDuration::ZERO,
            }),
            (BillingModeName::PerSecond, Some(m)) => Ok(BillingMode::PerSecond {
                minimum: parse_duration(m).map_err(|e| format!("billing.minimum: {e}"))?,
            }),
            (BillingModeName::PerStartedHour, None) => Ok(BillingMode::PerStartedHour),
            (BillingModeName::PerStartedHour, Some(_)) => Err(
                "billing.minimum is only for mode = \"per_second\" (per_started_hour always bills at least one hour)"
                    .into(),
            ),
        }
    }

    /// The price of a machine like `spec`: the table's on-demand price (or the fallback),
    /// times `spot_price_ratio` for spot machines when the profile has one, in USD.
    pub fn price(&self, spec: &MachineSpec) -> PriceQuote {
        let (per_hour, source) = match self.prices.get(&spec.instance_type) {
            Some(p) => (
                p.per_hour,
                PriceSource::Table {
                    estimated: p.estimated,
                },
            ),
            None => (self.fallback_price_per_hour, PriceSource::Fallback),
        };
        let (ratio, spot) = match (spec.spot, self.spot_price_ratio) {
            (true, Some(r)) => (r, true),
            _ => (1.0, false),
        };
        PriceQuote {
            usd_per_hour: per_hour * ratio * self.usd_rate,
            source,
            spot,
        }
    }

    /// vCPUs of an instance type for quotas: the price table's `vcpus`, else 2 (our default
    /// for types the table does not describe, `[est]`: the common runner types have 2).
    pub fn vcpus(&self, instance_type: &str) -> u32 {
        self.prices
            .get(instance_type)
            .and_then(|p| p.vcpus)
            .unwrap_or(2)
    }

    /// USD cost of a machine like `spec` that existed from `start` to `end` (§5 rules, see
    /// [`billing`]).
    ///
    /// # Errors
    /// As [`BillingSpec::mode`] (cannot happen for a profile that passed [`Profile::validate`]).
    pub fn cost_usd(
        &self,
        spec: &MachineSpec,
        start: SimTime,
        end: SimTime,
    ) -> Result<f64, String> {
        let quote = self.price(spec);
        Ok(billing::lifetime_cost(
            start,
            end,
            quote.usd_per_hour,
            self.mode()?,
            self.minimum_charge * self.usd_rate,
        ))
    }
}

impl Profile {
    /// Checks what serde cannot: known driver, probabilities in [0, 1], positive finite
    /// prices and rates, a valid billing rule.
    ///
    /// # Errors
    /// A message naming the key.
    pub fn validate(&self) -> Result<(), String> {
        if super::profile_name_for_driver(&self.driver).is_none() {
            return Err(format!(
                "driver = {:?} is not a docker-machine driver simrun fakes (expected amazonec2, google, digitalocean, hetzner, azure or openstack)",
                self.driver
            ));
        }
        let p = self.provisioning_failure_probability;
        if !(0.0..=1.0).contains(&p) {
            return Err(format!(
                "provisioning_failure_probability must be between 0 and 1, found {p}"
            ));
        }
        if let Some(r) = &self.rate_limits {
            r.validate()?;
        }
        let q = self.orphans.self_cleanup_failure_probability;
        if !(0.0..=1.0).contains(&q) {
            return Err(format!(
                "orphans.self_cleanup_failure_probability must be between 0 and 1, found {q}"
            ));
        }
        self.capacity.validate()?;
        let h = self.spot.hazard_per_hour;
        if !(h.is_finite() && h >= 0.0) {
            return Err(format!(
                "spot.hazard_per_hour must be a finite number ≥ 0, found {h}"
            ));
        }
        if let Some(a) = &self.api_calls
            && let Some(p) = &a.boot_poll
            && p.interval.0 == SimDuration::ZERO
        {
            return Err("api_calls.boot_poll.interval must be > 0".into());
        }
        let b = &self.billing;
        b.mode()?;
        let positive = |key: &str, v: f64| -> Result<(), String> {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!("{key} must be a finite number > 0, found {v}"))
            }
        };
        positive("billing.usd_rate", b.usd_rate)?;
        positive("billing.fallback_price_per_hour", b.fallback_price_per_hour)?;
        if !(b.minimum_charge.is_finite() && b.minimum_charge >= 0.0) {
            return Err(format!(
                "billing.minimum_charge must be a finite number ≥ 0, found {}",
                b.minimum_charge
            ));
        }
        if let Some(r) = b.spot_price_ratio {
            if !(r.is_finite() && r > 0.0 && r <= 1.0) {
                return Err(format!(
                    "billing.spot_price_ratio must be in (0, 1], found {r}"
                ));
            }
        }
        if b.currency.len() != 3 || !b.currency.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(format!(
                "billing.currency must be a 3-letter ISO code like \"USD\", found {:?}",
                b.currency
            ));
        }
        for (ty, price) in &b.prices {
            if !(price.per_hour.is_finite() && price.per_hour >= 0.0) {
                return Err(format!(
                    "billing.prices.{ty:?}.per_hour must be a finite number ≥ 0, found {}",
                    price.per_hour
                ));
            }
        }
        Ok(())
    }

    /// Total time of a create whose stages take exactly their medians (a summary for reports
    /// and tests; real creates sample each stage).
    pub fn create_median_sum(&self) -> SimDuration {
        SimDuration(
            self.create
                .in_order()
                .iter()
                .map(|(_, d)| d.median().0)
                .sum(),
        )
    }
}
