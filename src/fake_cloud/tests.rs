use std::path::Path;

use super::*;
use crate::time::{SimDuration, SimTime};

fn shipped(name: &str) -> Profile {
    Profile::load(name, &shipped_fakes_dir()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_shipped_profile_loads_and_matches_its_driver() {
    let dir = shipped_fakes_dir();
    let names = available_profiles(&dir);
    assert_eq!(
        names,
        vec![
            "aws-ec2",
            "azure",
            "digitalocean",
            "gce",
            "hetzner",
            "openstack"
        ]
    );
    for name in &names {
        let p = shipped(name);
        assert_eq!(&p.name, name, "name = matches the file stem");
        assert_eq!(profile_name_for_driver(&p.driver), Some(name.as_str()));
        assert_eq!(Profile::for_driver(&p.driver, &dir).unwrap(), p);
        assert!(p.create_median_sum() > SimDuration::from_secs(60), "{name}");
    }
}

#[test]
fn each_drivers_default_instance_type_has_a_listed_price() {
    for (driver, profile) in DRIVER_PROFILES {
        let p = shipped(profile);
        let options: Vec<String> = if driver == "openstack" {
            vec!["openstack-flavor-name=m1.small".into()]
        } else {
            Vec::new()
        };
        let spec = machine_spec_from_options(driver, &options).unwrap();
        let q = p.billing.price(&spec);
        assert!(
            matches!(q.source, PriceSource::Table { .. }),
            "{driver}: default type {} falls back",
            spec.instance_type
        );
    }
}

#[test]
fn stage_medians_add_up_as_the_profile_says() {
    // aws-ec2.toml: 1.5 + 18.5 + 25 + 10 + 45 + 15 s = 115 s.
    assert_eq!(shipped("aws-ec2").create_median_sum(), SimDuration(115_000));
    // digitalocean.toml: 0.3 + 59.7 + 15 + 10 + 45 + 15 s = 145 s.
    assert_eq!(
        shipped("digitalocean").create_median_sum(),
        SimDuration(145_000)
    );
}

#[test]
fn prices_spot_fallback_and_currency() {
    let aws = shipped("aws-ec2");
    let spec = |ty: &str, spot: bool| MachineSpec {
        instance_type: ty.into(),
        zone: None,
        spot,
        spot_max_price: None,
    };
    let on_demand = aws.billing.price(&spec("m5.large", false));
    assert_eq!(on_demand.usd_per_hour, 0.096);
    assert_eq!(on_demand.source, PriceSource::Table { estimated: false });
    let spot = aws.billing.price(&spec("m5.large", true));
    assert!((spot.usd_per_hour - 0.096 * 0.35).abs() < 1e-12 && spot.spot);
    let est = aws.billing.price(&spec("m4.2xlarge", false));
    assert_eq!(est.source, PriceSource::Table { estimated: true });
    let unknown = aws.billing.price(&spec("x9.huge", false));
    assert_eq!(unknown.source, PriceSource::Fallback);
    assert_eq!(unknown.usd_per_hour, 0.10);

    // Hetzner: cx31 at €0.016/h × 1.08 USD/EUR, alive 61 min → 2 started hours:
    // 2 × 0.016 × 1.08 = $0.03456.
    let hz = shipped("hetzner");
    let c = hz
        .billing
        .cost_usd(&spec("cx31", false), SimTime(0), SimTime(61 * 60_000))
        .unwrap();
    assert!((c - 0.03456).abs() < 1e-12, "{c}");
    // Spot is ignored where the cloud has none (no spot_price_ratio).
    assert!(!hz.billing.price(&spec("cx31", true)).spot);

    // DigitalOcean: a 2-minute s-2vcpu-4gb costs max(120 × 0.03571 / 3600, 0.01) = $0.01.
    let d = shipped("digitalocean");
    let c = d
        .billing
        .cost_usd(&spec("s-2vcpu-4gb", false), SimTime(0), SimTime(120_000))
        .unwrap();
    assert!((c - 0.01).abs() < 1e-12, "{c}");
}

const MINIMAL: &str = r#"
name = "t"
driver = "google"
provisioning_failure_probability = 0.0
[create]
api_call = "1s"
boot = "1s"
ssh_wait = "1s"
provision = "1s"
docker_install = "1s"
certs = "1s"
[calls]
stop = "1s"
rm = "1s"
rm_force = "1s"
config = "1s"
credentials = "1s"
[billing]
currency = "USD"
usd_rate = 1.0
mode = "per_second"
minimum = "60s"
fallback_price_per_hour = 0.1
[billing.prices]
"n1-standard-1" = { per_hour = 0.0475 }
"#;

fn err(text: &str) -> String {
    Profile::from_toml(text, "fakes/t.toml")
        .unwrap_err()
        .to_string()
}

#[test]
fn a_minimal_profile_loads() {
    let p = Profile::from_toml(MINIMAL, "t").unwrap();
    assert_eq!(
        p.create.boot,
        crate::random::dist::Dist::fixed(SimDuration(1000))
    );
    assert_eq!(
        p.billing.mode().unwrap(),
        BillingMode::PerSecond {
            minimum: SimDuration(60_000)
        }
    );
}

#[test]
fn unknown_keys_are_errors_naming_the_key() {
    let e = err(&MINIMAL.replace("name = \"t\"", "name = \"t\"\nrate_limit = 5"));
    assert!(e.starts_with("fake-cloud profile fakes/t.toml: "), "{e}");
    assert!(e.contains("unknown field `rate_limit`"), "{e}");
    let e = err(&MINIMAL.replace("boot = \"1s\"", "bot = \"1s\""));
    assert!(e.contains("unknown field `bot`"), "{e}");
    let e = err(&MINIMAL.replace(
        "{ per_hour = 0.0475 }",
        "{ per_hour = 0.0475, spot = 0.01 }",
    ));
    assert!(e.contains("unknown field `spot`"), "{e}");
    let e = err(&MINIMAL.replace("certs = \"1s\"\n", ""));
    assert!(e.contains("missing field `certs`"), "{e}");
}

#[test]
fn bad_distributions_give_clear_errors() {
    let e = err(&MINIMAL.replace(
        "boot = \"1s\"",
        "boot = { dist = \"lognormal\", median = \"30s\", p95 = \"10s\" }",
    ));
    assert!(e.contains("p95 (10s) is less than median (30s)"), "{e}");
    assert!(e.contains("boot"), "the TOML error shows the line: {e}");
    let e = err(&MINIMAL.replace("stop = \"1s\"", "stop = \"1 minute\""));
    assert!(e.contains("invalid duration \"1 minute\""), "{e}");
    let e = err(&MINIMAL.replace(
        "rm = \"1s\"",
        "rm = { dist = \"empirical\", file = \"rm.csv\" }",
    ));
    assert!(e.contains("unknown dist \"empirical\""), "{e}");
}

#[test]
fn invalid_values_are_errors_naming_the_key() {
    let cases = [
        (
            (
                "provisioning_failure_probability = 0.0",
                "provisioning_failure_probability = 1.5",
            ),
            "provisioning_failure_probability must be between 0 and 1",
        ),
        (
            ("driver = \"google\"", "driver = \"virtualbox\""),
            "driver = \"virtualbox\" is not a docker-machine driver",
        ),
        (
            ("mode = \"per_second\"", "mode = \"per_started_hour\""),
            "billing.minimum is only for mode = \"per_second\"",
        ),
        (
            ("mode = \"per_second\"", "mode = \"hourly\""),
            "unknown variant `hourly`",
        ),
        (
            ("usd_rate = 1.0", "usd_rate = 0.0"),
            "billing.usd_rate must be",
        ),
        (
            ("currency = \"USD\"", "currency = \"usd\""),
            "3-letter ISO code",
        ),
        (
            (
                "fallback_price_per_hour = 0.1",
                "fallback_price_per_hour = 0.1\nspot_price_ratio = 2.0",
            ),
            "spot_price_ratio must be in (0, 1]",
        ),
        (
            ("{ per_hour = 0.0475 }", "{ per_hour = -1.0 }"),
            "billing.prices.\"n1-standard-1\".per_hour",
        ),
    ];
    for ((from, to), want) in cases {
        let e = err(&MINIMAL.replace(from, to));
        assert!(e.contains(want), "{to}: {e}");
    }
}

#[test]
fn unknown_profile_names_list_what_exists() {
    let e = Profile::load("aws", &shipped_fakes_dir())
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown fake-cloud profile \"aws\""), "{e}");
    assert!(
        e.contains("available: aws-ec2, azure, digitalocean, gce, hetzner, openstack"),
        "{e}"
    );
    let e = Profile::for_driver("virtualbox", &shipped_fakes_dir())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no profile for MachineDriver \"virtualbox\""),
        "{e}"
    );
    let e = Profile::load("/nonexistent/x.toml", Path::new("."))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("cannot read fake-cloud profile /nonexistent/x.toml"),
        "{e}"
    );
}

/// `(file, MachineDriver, MachineOptions)` of every autoscaled runner in the shared configs.
fn shared_config_runners(dir: &Path) -> Vec<(String, String, Vec<String>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap();
        let runners = doc.get("runners").and_then(|r| r.as_array()).cloned();
        for r in runners.unwrap_or_default() {
            let Some(m) = r.get("machine") else { continue };
            let driver = m
                .get("MachineDriver")
                .and_then(|d| d.as_str())
                .unwrap_or_default()
                .to_string();
            let opts = m
                .get("MachineOptions")
                .and_then(|o| o.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            out.push((name, driver, opts));
        }
    }
    out
}

#[test]
fn instance_types_of_the_shared_configs_have_prices() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/configs");
    if !dir.is_dir() {
        println!("skipped: {} is absent", dir.display());
        return;
    }
    let runners = shared_config_runners(&dir);
    assert!(runners.len() >= 10, "found {} runners", runners.len());
    let fakes = shipped_fakes_dir();
    let mut seen = Vec::new();
    for (file, driver, opts) in runners {
        let spec =
            machine_spec_from_options(&driver, &opts).unwrap_or_else(|e| panic!("{file}: {e}"));
        let profile = Profile::for_driver(&driver, &fakes).unwrap();
        let q = profile.billing.price(&spec);
        assert!(
            matches!(q.source, PriceSource::Table { .. }),
            "{file}: {driver} {} has no price in {}",
            spec.instance_type,
            profile.name
        );
        seen.push(spec.instance_type);
    }
    seen.sort();
    seen.dedup();
    for ty in [
        "m5.large",
        "c5.large",
        "t3.medium",
        "t3.large",
        "m4.2xlarge",
        "n1-standard-1",
        "s-2vcpu-2gb",
        "cx31",
    ] {
        assert!(seen.iter().any(|s| s == ty), "{ty} not among {seen:?}");
    }
}

#[test]
fn fault_sections_of_a_profile_are_validated_naming_the_key() {
    let limits = "[rate_limits]\nthrottle_error = \"x\"\nreaction = { kind = \"fail\" }\n[[rate_limits.limits]]\nname = \"q\"\noperations = [\"*\"]\n";
    let e = err(&format!(
        "{MINIMAL}{limits}algorithm = \"token_bucket\"\ncapacity = 5\n"
    ));
    assert!(
        e.contains("rate_limits.limits \"q\": algorithm = \"token_bucket\" needs `refill_per_sec`"),
        "{e}"
    );
    let e = err(&format!(
        "{MINIMAL}{limits}algorithm = \"fixed_window\"\nlimit = 5\n"
    ));
    assert!(e.contains("needs `window` > 0"), "{e}");
    let e = err(&format!(
        "{MINIMAL}[rate_limits]\nthrottle_error = \"x\"\nreaction = {{ kind = \"backoff\" }}\n"
    ));
    assert!(e.contains("unknown variant `backoff`"), "{e}");
    let e = err(&format!(
        "{MINIMAL}[orphans]\nself_cleanup_failure_probability = 2.0\n"
    ));
    assert!(
        e.contains("orphans.self_cleanup_failure_probability must be between 0 and 1"),
        "{e}"
    );
    let e = err(&format!("{MINIMAL}[spot]\nhazard_per_hour = -1.0\n"));
    assert!(e.contains("spot.hazard_per_hour must be"), "{e}");
    let e = err(&format!("{MINIMAL}[quotas]\ncpus = 4\n"));
    assert!(e.contains("unknown field `cpus`"), "{e}");
}
