//! The account- and driver-level parts of a profile: quotas (`[quotas]`), capacity errors
//! (`[capacity]`), spot interruptions (`[spot]`) and what a failed create or remove leaves
//! behind (`[orphans]`) — cloud-faults §1.4, §2, §6, §7, §8. All tables are optional.
//!
//! ```toml
//! [quotas]                      # absent limits = unlimited (a `quota` fault can set them)
//! vcpus = 32
//! instances = 20
//! vcpus_error = "VcpuLimitExceeded: ... vCPU limit of {limit} allows ..."
//! instances_error = "InstanceLimitExceeded: ..."
//! vcpus_code = "VcpuLimitExceeded"          # error codes for reports (optional)
//! instances_code = "InstanceLimitExceeded"
//!
//! [capacity]
//! error = "InsufficientInstanceCapacity: We currently do not have sufficient {type} capacity in the Availability Zone you requested ({zone}). ..."
//! spot_error = "InsufficientInstanceCapacity: There is no Spot capacity available that matches your request."
//! delay = { dist = "uniform", min = "1s", max = "2s" }   # SDK retries before it surfaces
//! code = "InsufficientInstanceCapacity"
//! episodes_per_day = 0.05       # stockout episodes per (zone, instance type); 0 = none
//! episode_duration = { dist = "lognormal", median = "20m", p95 = "3h" }
//! spot_multiplier = 3.0         # episode rate × this for spot / preemptible VMs
//!
//! [spot]
//! hazard_per_hour = 0.004       # per spot VM
//! notice = "30s"
//! max_lifetime = "24h"          # optional (GCE preemptible)
//!
//! [orphans]
//! remove_by = "id"              # how `rm` finds the VM: "id" (saved ID) or "name"
//! self_cleanup = true           # the driver deletes the VM when its Create fails
//! self_cleanup_failure_probability = 0.02
//! remove_error = "unable to terminate instance: ..."
//! remove_code = "InternalError"
//! ```
//!
//! Error templates may use `{limit}`, `{usage}`, `{requested}`, `{new_limit}` (quotas),
//! `{type}`, `{zone}`, `{region}` (all).

use serde::Deserialize;

use super::api::Span;
use crate::random::dist::Dist;

/// `[quotas]`: the account's instance and vCPU quota (cloud-faults §2, §7 `quota.*`). Every VM
/// that exists counts — not yet ready, failed, orphaned (§7 `quota.counts_leaked`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    /// Instance quota; absent = unlimited.
    pub instances: Option<u32>,
    /// vCPU quota (vCPUs from the price table's `vcpus`); absent = unlimited.
    pub vcpus: Option<u32>,
    /// The error for the instance quota (template).
    #[serde(default = "default_instances_error")]
    pub instances_error: String,
    /// The error for the vCPU quota (template).
    #[serde(default = "default_vcpus_error")]
    pub vcpus_error: String,
    /// The cloud error code of the instance-quota error (`InstanceLimitExceeded`, …), for
    /// reports (`failures.creation.by_code`); absent = none.
    #[serde(default)]
    pub instances_code: Option<String>,
    /// The cloud error code of the vCPU-quota error (`VcpuLimitExceeded`, `QUOTA_EXCEEDED`,
    /// …); absent = none.
    #[serde(default)]
    pub vcpus_code: Option<String>,
}

fn default_instances_error() -> String {
    "instance quota exceeded: limit {limit}, in use {usage}".into()
}

fn default_vcpus_error() -> String {
    "vCPU quota exceeded: limit {limit}, in use {usage}, requested {requested}".into()
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            instances: None,
            vcpus: None,
            instances_error: default_instances_error(),
            vcpus_error: default_vcpus_error(),
            instances_code: None,
            vcpus_code: None,
        }
    }
}

/// `[capacity]`: the cloud's insufficient-capacity error (cloud-faults §2, §7 `cap.error`) and
/// its own stockout episodes (§7 `cap.episode_rate`, `cap.episode_duration`,
/// `cap.spot_multiplier`; issue 5 item 1 "capacity pools").
///
/// Episodes are an alternating renewal process per capacity pool — (profile, zone, instance
/// type, spot or not) — see [`super::stockouts`]. During an episode every create of that pool
/// fails at the create operation exactly as under a `capacity` fault: this error, no VM, the
/// `delay` before it surfaces.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacitySpec {
    /// The error (template).
    #[serde(default = "default_capacity_error")]
    pub error: String,
    /// The error for spot / preemptible VMs when it differs (AWS: "There is no Spot capacity
    /// available that matches your request.", cloud-faults §2.1, §6); absent = `error`.
    pub spot_error: Option<String>,
    /// Extra time before the error surfaces (SDK retries of a 5xx), absent = none.
    pub delay: Option<Dist>,
    /// The cloud error code (`InsufficientInstanceCapacity`, `ZONE_RESOURCE_POOL_EXHAUSTED`,
    /// …), for reports; absent = none.
    #[serde(default)]
    pub code: Option<String>,
    /// Stockout episodes per day per (zone, instance type) pool for on-demand VMs (§7
    /// `cap.episode_rate`); 0 (the default) = no episodes.
    #[serde(default)]
    pub episodes_per_day: f64,
    /// How long an episode lasts (§7 `cap.episode_duration`); required when
    /// `episodes_per_day > 0`.
    pub episode_duration: Option<Dist>,
    /// The episode rate of spot / preemptible pools is `episodes_per_day × spot_multiplier`
    /// (§7 `cap.spot_multiplier`); default 1.
    #[serde(default = "one")]
    pub spot_multiplier: f64,
}

fn one() -> f64 {
    1.0
}

impl CapacitySpec {
    /// The error template for spot (`true`) or on-demand VMs.
    pub fn error_for(&self, spot: bool) -> &str {
        match &self.spot_error {
            Some(e) if spot => e,
            _ => &self.error,
        }
    }

    /// Episodes per day for a pool of spot (`true`) or on-demand VMs.
    pub fn episodes_per_day(&self, spot: bool) -> f64 {
        if spot {
            self.episodes_per_day * self.spot_multiplier
        } else {
            self.episodes_per_day
        }
    }

    /// Checks the episode keys.
    ///
    /// # Errors
    /// A negative or non-finite rate or multiplier, or a rate without `episode_duration`.
    pub fn validate(&self) -> Result<(), String> {
        for (key, v) in [
            ("capacity.episodes_per_day", self.episodes_per_day),
            ("capacity.spot_multiplier", self.spot_multiplier),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{key} must be a finite number ≥ 0, found {v}"));
            }
        }
        if self.episodes_per_day > 0.0 && self.episode_duration.is_none() {
            return Err(
                "capacity.episode_duration is required when capacity.episodes_per_day > 0 (e.g. { dist = \"lognormal\", median = \"20m\", p95 = \"3h\" })"
                    .into(),
            );
        }
        Ok(())
    }
}

fn default_capacity_error() -> String {
    "insufficient capacity for {type} in {zone}".into()
}

impl Default for CapacitySpec {
    fn default() -> Self {
        CapacitySpec {
            error: default_capacity_error(),
            spot_error: None,
            delay: None,
            code: None,
            episodes_per_day: 0.0,
            episode_duration: None,
            spot_multiplier: 1.0,
        }
    }
}

/// `[spot]`: spot / preemptible interruptions (cloud-faults §6, §7 `spot.*`). Applies to VMs
/// whose options ask for spot/preemptible.
#[derive(Clone, Debug, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SpotSpec {
    /// Background interruption hazard per spot VM per hour.
    #[serde(default)]
    pub hazard_per_hour: f64,
    /// Notice before the VM goes.
    #[serde(default)]
    pub notice: Span,
    /// Forced stop after this lifetime (GCE preemptible: 24 h).
    pub max_lifetime: Option<Span>,
}

/// How `docker-machine rm` finds the VM (cloud-faults §1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RemoveBy {
    /// By the name derived from the machine name (google, azure): always found.
    #[default]
    Name,
    /// By the cloud ID saved after a successful driver `Create` (amazonec2, digitalocean,
    /// hetzner, openstack): a VM whose ID was never saved is not found, and `rm` succeeds
    /// while the VM stays.
    Id,
}

/// `[orphans]`: what failed creates and removals leave behind (cloud-faults §1.4).
#[derive(Clone, Debug, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OrphanSpec {
    /// How `rm` finds the VM.
    #[serde(default)]
    pub remove_by: RemoveBy,
    /// The driver deletes the VM itself when its `Create` fails after the VM exists.
    #[serde(default)]
    pub self_cleanup: bool,
    /// Probability that this clean-up fails (e.g. its terminate call is throttled).
    #[serde(default)]
    pub self_cleanup_failure_probability: f64,
    /// The error `rm` prints when the cloud refuses the delete (removal outage).
    #[serde(default)]
    pub remove_error: Option<String>,
    /// The cloud error code of that refusal, for reports (`failures.removal.by_code`).
    #[serde(default)]
    pub remove_code: Option<String>,
}

/// Values for an error template.
#[derive(Clone, Debug, Default)]
pub struct TemplateValues<'a> {
    /// `{limit}`.
    pub limit: u64,
    /// `{usage}`.
    pub usage: u64,
    /// `{requested}`.
    pub requested: u64,
    /// `{type}`.
    pub instance_type: &'a str,
    /// `{zone}`.
    pub zone: &'a str,
}

/// The region of a zone: `us-east-1a` → `us-east-1`, `us-central1-a` → `us-central1`,
/// anything else unchanged.
pub fn region_of(zone: &str) -> &str {
    if let Some((head, tail)) = zone.rsplit_once('-')
        && tail.len() == 1
        && tail.chars().all(|c| c.is_ascii_lowercase())
    {
        return head;
    }
    let b = zone.as_bytes();
    if b.len() >= 2 && b[b.len() - 1].is_ascii_lowercase() && b[b.len() - 2].is_ascii_digit() {
        return &zone[..zone.len() - 1];
    }
    zone
}

/// Fills an error template.
pub fn render(template: &str, v: &TemplateValues<'_>) -> String {
    template
        .replace("{limit}", &v.limit.to_string())
        .replace("{usage}", &v.usage.to_string())
        .replace("{requested}", &v.requested.to_string())
        .replace("{new_limit}", &(v.usage + v.requested).to_string())
        .replace("{type}", v.instance_type)
        .replace("{region}", region_of(v.zone))
        .replace("{zone}", v.zone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_of_zones() {
        assert_eq!(region_of("us-east-1a"), "us-east-1");
        assert_eq!(region_of("us-central1-a"), "us-central1");
        assert_eq!(region_of("fsn1"), "fsn1");
        assert_eq!(region_of("westus"), "westus");
    }

    #[test]
    fn templates_fill_every_placeholder() {
        let v = TemplateValues {
            limit: 16,
            usage: 16,
            requested: 4,
            instance_type: "c5.xlarge",
            zone: "us-east-1a",
        };
        assert_eq!(
            render(
                "{limit}/{usage}/{requested}/{new_limit} {type} {zone} {region}",
                &v
            ),
            "16/16/4/20 c5.xlarge us-east-1a us-east-1"
        );
    }
}
