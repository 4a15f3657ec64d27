//! Checks a fault's `scope` values against the scenario's runners and their clouds, so that a
//! typo (`RunInstance`, a zone or instance type no runner uses, an unknown runner) is a load
//! error instead of a fault window that silently never acts.

use std::collections::{BTreeMap, BTreeSet};

use super::driver::RunnerCloud;
use super::faults::{FaultSpec, operation_matches};

/// The docker-machine commands a `scope.operation` may name (fault module docs).
const COMMANDS: [&str; 6] = ["create", "stop", "rm -y", "rm -f", "config", "url"];

/// Every name `scope.operation` can match in `clouds`: the docker-machine commands, the API
/// operations of the profiles' `[api_calls]`, and the rate limits' names and operations.
pub fn operation_names(clouds: &BTreeMap<String, RunnerCloud>) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = COMMANDS.iter().map(|c| c.to_string()).collect();
    for rc in clouds.values() {
        if let Some(a) = &rc.profile.api_calls {
            if !a.create_operation.is_empty() {
                names.insert(a.create_operation.clone());
            }
            if let Some(p) = &a.boot_poll {
                names.insert(p.operation.clone());
            }
            for table in [
                &a.create,
                &a.after_boot,
                &a.stop,
                &a.rm,
                &a.config,
                &a.credentials,
            ] {
                names.extend(table.keys().cloned());
            }
        }
        if let Some(rl) = &rc.profile.rate_limits {
            for l in &rl.limits {
                names.insert(l.name.clone());
                names.extend(l.operations.iter().cloned());
            }
        }
    }
    names
}

/// Checks `f.scope`: `runner` names one of `runners`; `instance_type` and `zone` are those of
/// at least one runner's machines (as its `MachineOptions` give them); `operation` (a name, or
/// a prefix ending in `*`) matches at least one of [`operation_names`].
///
/// # Errors
/// A message naming the scope key, the value and what was expected.
pub fn check_scope(
    f: &FaultSpec,
    runners: &[String],
    clouds: &BTreeMap<String, RunnerCloud>,
) -> Result<(), String> {
    let s = &f.scope;
    if let Some(r) = &s.runner
        && !runners.contains(r)
    {
        return Err(format!(
            "scope.runner = {r:?} is not a runner of the config (runners: {})",
            runners.join(", ")
        ));
    }
    let known = |get: &dyn Fn(&RunnerCloud) -> Option<String>| -> BTreeSet<String> {
        clouds.values().filter_map(get).collect()
    };
    if let Some(t) = &s.instance_type {
        let types = known(&|rc| Some(rc.spec.instance_type.clone()));
        if !types.contains(t) {
            return Err(format!(
                "scope.instance_type = {t:?} is not the instance type of any runner (the runners use: {})",
                types.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    if let Some(z) = &s.zone {
        let zones = known(&|rc| rc.spec.zone.clone());
        if !zones.contains(z) {
            return Err(format!(
                "scope.zone = {z:?} is not the zone of any runner (the runners use: {})",
                if zones.is_empty() {
                    "none given in MachineOptions".to_string()
                } else {
                    zones.into_iter().collect::<Vec<_>>().join(", ")
                }
            ));
        }
    }
    if let Some(op) = &s.operation {
        let names = operation_names(clouds);
        if !names.iter().any(|n| operation_matches(op, n)) {
            return Err(format!(
                "scope.operation = {op:?} matches no docker-machine command, API operation or rate limit of the runners' profiles (known: {})",
                names.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    Ok(())
}
