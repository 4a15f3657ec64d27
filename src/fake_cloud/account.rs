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
//! delay = { dist = "uniform", min = "1s", max = "2s" }   # SDK retries before it surfaces
//! code = "InsufficientInstanceCapacity"
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

/// `[capacity]`: the cloud's insufficient-capacity error (cloud-faults §2, §7 `cap.error`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacitySpec {
    /// The error (template).
    #[serde(default = "default_capacity_error")]
    pub error: String,
    /// Extra time before the error surfaces (SDK retries of a 5xx), absent = none.
    pub delay: Option<Dist>,
    /// The cloud error code (`InsufficientInstanceCapacity`, `ZONE_RESOURCE_POOL_EXHAUSTED`,
    /// …), for reports; absent = none.
    #[serde(default)]
    pub code: Option<String>,
}

fn default_capacity_error() -> String {
    "insufficient capacity for {type} in {zone}".into()
}

impl Default for CapacitySpec {
    fn default() -> Self {
        CapacitySpec {
            error: default_capacity_error(),
            delay: None,
            code: None,
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
