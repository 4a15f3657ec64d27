//! What machine a runner asks for: instance type, zone and spot, read from its
//! `MachineOptions` the way each docker-machine driver reads its flags (issue 4 §4).
//!
//! `MachineOptions` entries are `key=value` or a bare `key` (a boolean flag set to true); GitLab
//! Runner passes each as `--<entry>` to `docker-machine create`. Later entries override earlier
//! ones, as repeated command-line flags do. Entries for other drivers are ignored (the driver
//! would reject them, but that is not this module's concern).
//!
//! Defaults when an option is absent (the driver's own flag defaults):
//!
//! | driver | instance type (option, default) | zone (option(s), default) | spot |
//! |---|---|---|---|
//! | amazonec2 | `amazonec2-instance-type`, `t2.micro` | `amazonec2-region` + `amazonec2-zone`, `us-east-1` + `a` | `amazonec2-request-spot-instance`; max price `amazonec2-spot-price`, default `0.50` |
//! | google | `google-machine-type`, `n1-standard-1` | `google-zone`, `us-central1-a` | `google-preemptible` |
//! | digitalocean | `digitalocean-size`, `512mb` | `digitalocean-region`, `nyc3` | — |
//! | hetzner | `hetzner-server-type`, `cx11` | `hetzner-server-location`, none (Hetzner chooses) | — |
//! | azure | `azure-size`, `Standard_A2` | `azure-location`, `westus` | — (no spot in the driver, cloud-faults §2.3) |
//! | openstack | `openstack-flavor-name` or `openstack-flavor-id`, **required** | `openstack-availability-zone`, none | — |
//!
//! Sources: amazonec2 and digitalocean defaults from the GitLab fork's driver flag definitions
//! (cloud-faults §0 GF); hetzner from the `JonasProgrammer/docker-machine-driver-hetzner` README
//! (§0 HZ); google and azure from docker-machine's driver documentation `[doc, not re-verified
//! here]`; openstack's driver refuses to create without a flavor.

/// The machine a create call asks the cloud for.
#[derive(Clone, Debug, PartialEq)]
pub struct MachineSpec {
    /// The cloud's instance type / machine type / size / server type / flavor.
    pub instance_type: String,
    /// Zone or region the VM is placed in (AWS: region + zone letter, e.g. `us-east-1a`);
    /// `None` when the cloud chooses (Hetzner, OpenStack without an availability zone).
    pub zone: Option<String>,
    /// A spot / preemptible VM was requested.
    pub spot: bool,
    /// AWS spot maximum price in USD per hour (`amazonec2-spot-price`, default 0.50);
    /// `None` when not spot, or when the option is set empty (AWS then caps at the on-demand
    /// price).
    pub spot_max_price: Option<f64>,
}

/// Why `MachineOptions` cannot describe a machine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    /// The driver is none of amazonec2, google, digitalocean, hetzner, azure, openstack.
    #[error(
        "MachineDriver {0:?} has no fake cloud (expected amazonec2, google, digitalocean, hetzner, azure or openstack)"
    )]
    UnknownDriver(String),
    /// A boolean flag with a value Go's `strconv.ParseBool` rejects.
    #[error("MachineOptions entry {entry:?}: {value:?} is not a boolean (expected true or false)")]
    BadBool {
        /// The whole entry.
        entry: String,
        /// The value part.
        value: String,
    },
    /// A number option that does not parse.
    #[error("MachineOptions entry {entry:?}: {value:?} is not a number")]
    BadNumber {
        /// The whole entry.
        entry: String,
        /// The value part.
        value: String,
    },
    /// The driver needs an option that is missing.
    #[error("MachineDriver {driver:?} needs {needs} in MachineOptions")]
    Missing {
        /// The driver.
        driver: String,
        /// What is missing.
        needs: &'static str,
    },
}

/// The value of the last `key` entry: `Some(Some(v))` for `key=v`, `Some(None)` for a bare
/// `key`, `None` when absent.
fn last<'a>(options: &'a [String], key: &str) -> Option<(&'a str, Option<&'a str>)> {
    options.iter().rev().find_map(|entry| {
        let (k, v) = match entry.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (entry.as_str(), None),
        };
        (k.trim() == key).then_some((entry.as_str(), v.map(str::trim)))
    })
}

fn string_opt(options: &[String], key: &str) -> Option<String> {
    last(options, key).map(|(_, v)| v.unwrap_or("").to_string())
}

/// A boolean flag as Go's `strconv.ParseBool` reads it; bare flag = true.
fn bool_opt(options: &[String], key: &str) -> Result<bool, OptionsError> {
    match last(options, key) {
        None => Ok(false),
        Some((_, None)) => Ok(true),
        Some((entry, Some(v))) => match v {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
            _ => Err(OptionsError::BadBool {
                entry: entry.to_string(),
                value: v.to_string(),
            }),
        },
    }
}

/// Reads the machine a runner with `MachineDriver = driver` and these `MachineOptions` creates
/// (see the module table for keys and defaults).
///
/// # Errors
/// An unknown driver, a malformed boolean or number, or an OpenStack config without a flavor.
pub fn machine_spec_from_options(
    driver: &str,
    options: &[String],
) -> Result<MachineSpec, OptionsError> {
    let nonempty_or = |key: &str, default: &str| -> String {
        match string_opt(options, key) {
            Some(v) if !v.is_empty() => v,
            _ => default.to_string(),
        }
    };
    let spec = match driver {
        "amazonec2" => {
            let region = nonempty_or("amazonec2-region", "us-east-1");
            let zone = nonempty_or("amazonec2-zone", "a");
            let spot = bool_opt(options, "amazonec2-request-spot-instance")?;
            let spot_max_price = if !spot {
                None
            } else {
                match last(options, "amazonec2-spot-price") {
                    None => Some(0.50),
                    Some((_, None)) | Some((_, Some(""))) => None,
                    Some((entry, Some(v))) => {
                        Some(v.parse::<f64>().map_err(|_| OptionsError::BadNumber {
                            entry: entry.to_string(),
                            value: v.to_string(),
                        })?)
                    }
                }
            };
            MachineSpec {
                instance_type: nonempty_or("amazonec2-instance-type", "t2.micro"),
                zone: Some(format!("{region}{zone}")),
                spot,
                spot_max_price,
            }
        }
        "google" => MachineSpec {
            instance_type: nonempty_or("google-machine-type", "n1-standard-1"),
            zone: Some(nonempty_or("google-zone", "us-central1-a")),
            spot: bool_opt(options, "google-preemptible")?,
            spot_max_price: None,
        },
        "digitalocean" => MachineSpec {
            instance_type: nonempty_or("digitalocean-size", "512mb"),
            zone: Some(nonempty_or("digitalocean-region", "nyc3")),
            spot: false,
            spot_max_price: None,
        },
        "hetzner" => MachineSpec {
            instance_type: nonempty_or("hetzner-server-type", "cx11"),
            zone: string_opt(options, "hetzner-server-location").filter(|v| !v.is_empty()),
            spot: false,
            spot_max_price: None,
        },
        "azure" => MachineSpec {
            instance_type: nonempty_or("azure-size", "Standard_A2"),
            zone: Some(nonempty_or("azure-location", "westus")),
            spot: false,
            spot_max_price: None,
        },
        "openstack" => {
            let flavor = string_opt(options, "openstack-flavor-name")
                .filter(|v| !v.is_empty())
                .or_else(|| string_opt(options, "openstack-flavor-id").filter(|v| !v.is_empty()))
                .ok_or_else(|| OptionsError::Missing {
                    driver: driver.to_string(),
                    needs: "openstack-flavor-name or openstack-flavor-id",
                })?;
            MachineSpec {
                instance_type: flavor,
                zone: string_opt(options, "openstack-availability-zone").filter(|v| !v.is_empty()),
                spot: false,
                spot_max_price: None,
            }
        }
        other => return Err(OptionsError::UnknownDriver(other.to_string())),
    };
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn aws_reads_type_region_zone_and_spot() {
        let s = machine_spec_from_options(
            "amazonec2",
            &opts(&[
                "amazonec2-region=eu-west-1",
                "amazonec2-zone=b",
                "amazonec2-instance-type=m5.large",
                "amazonec2-request-spot-instance=true",
                "amazonec2-spot-price=0.11",
                "engine-opt=default-address-pool=base=172.31.0.0/16,size=24",
            ]),
        )
        .unwrap();
        assert_eq!(
            s,
            MachineSpec {
                instance_type: "m5.large".into(),
                zone: Some("eu-west-1b".into()),
                spot: true,
                spot_max_price: Some(0.11),
            }
        );
    }

    #[test]
    fn aws_defaults_and_spot_price_forms() {
        let s = machine_spec_from_options("amazonec2", &[]).unwrap();
        assert_eq!(s.instance_type, "t2.micro");
        assert_eq!(s.zone.as_deref(), Some("us-east-1a"));
        assert!(!s.spot && s.spot_max_price.is_none());
        let bare =
            machine_spec_from_options("amazonec2", &opts(&["amazonec2-request-spot-instance"]))
                .unwrap();
        assert!(bare.spot);
        assert_eq!(
            bare.spot_max_price,
            Some(0.50),
            "docker-machine default max price"
        );
        let empty = machine_spec_from_options(
            "amazonec2",
            &opts(&[
                "amazonec2-request-spot-instance=true",
                "amazonec2-spot-price=",
            ]),
        )
        .unwrap();
        assert_eq!(empty.spot_max_price, None);
    }

    #[test]
    fn later_entries_win() {
        let s = machine_spec_from_options(
            "google",
            &opts(&[
                "google-machine-type=n1-standard-1",
                "google-machine-type=e2-medium",
            ]),
        )
        .unwrap();
        assert_eq!(s.instance_type, "e2-medium");
    }

    #[test]
    fn other_drivers_read_their_own_keys() {
        let g = machine_spec_from_options(
            "google",
            &opts(&[
                "google-zone=us-east1-d",
                "google-preemptible",
                "amazonec2-instance-type=x",
            ]),
        )
        .unwrap();
        assert_eq!(g.instance_type, "n1-standard-1");
        assert_eq!(g.zone.as_deref(), Some("us-east1-d"));
        assert!(g.spot);
        let d = machine_spec_from_options(
            "digitalocean",
            &opts(&["digitalocean-size=s-2vcpu-2gb", "digitalocean-region=nyc1"]),
        )
        .unwrap();
        assert_eq!(
            (d.instance_type.as_str(), d.zone.as_deref()),
            ("s-2vcpu-2gb", Some("nyc1"))
        );
        let h = machine_spec_from_options("hetzner", &opts(&["hetzner-server-type=cx31"])).unwrap();
        assert_eq!((h.instance_type.as_str(), h.zone), ("cx31", None));
        let a = machine_spec_from_options("azure", &[]).unwrap();
        assert_eq!(a.instance_type, "Standard_A2");
        let o = machine_spec_from_options("openstack", &opts(&["openstack-flavor-id=42"])).unwrap();
        assert_eq!(o.instance_type, "42");
    }

    #[test]
    fn bad_options_are_errors() {
        let e = machine_spec_from_options("virtualbox", &[]).unwrap_err();
        assert!(e.to_string().contains("\"virtualbox\" has no fake cloud"));
        let e =
            machine_spec_from_options("google", &opts(&["google-preemptible=yes"])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "MachineOptions entry \"google-preemptible=yes\": \"yes\" is not a boolean (expected true or false)"
        );
        let e = machine_spec_from_options(
            "amazonec2",
            &opts(&[
                "amazonec2-request-spot-instance",
                "amazonec2-spot-price=cheap",
            ]),
        )
        .unwrap_err();
        assert!(matches!(e, OptionsError::BadNumber { .. }));
        let e = machine_spec_from_options("openstack", &[]).unwrap_err();
        assert!(
            e.to_string()
                .contains("openstack-flavor-name or openstack-flavor-id")
        );
    }
}
