//! Fake clouds for the simulator, loaded from `fakes/<profile>.toml` (issue 4 §4; DESIGN.md
//! `fake_cloud`, below `scenario`). This module holds the profile model and loader ([`Profile`]), billing
//! ([`billing`]) and how a runner's `MachineOptions` select a machine ([`options`]). The timed
//! call execution is [`driver::FakeCloud`]; fault injection (issue 5, cloud-faults §1–§8) adds
//! the cloud API model ([`api`]: calls per docker-machine step, rate limits, the driver's
//! reaction), account limits and leak behaviour ([`account`]), the clouds' own stockout episodes
//! ([`stockouts`]) and the scenario's fault windows
//! ([`faults`]).
//!
//! Each runner's profile follows its `MachineDriver` ([`profile_name_for_driver`]) unless the
//! scenario names another one.

pub mod account;
pub mod api;
pub mod billing;
pub mod driver;
pub mod faults;
pub mod options;
pub mod profile;
pub mod scope;
pub mod stockouts;

use std::path::{Path, PathBuf};

pub use billing::{BillingMode, billed_duration, lifetime_cost};
pub use driver::{
    Bill, CallFailure, FakeCloud, LossCause, LostMachine, Orphan, OrphanCause, RunnerCloud,
    ThrottledCall,
};
pub use faults::{FaultKind, FaultScope, FaultSpec, FaultStage};
pub use options::{MachineSpec, OptionsError, machine_spec_from_options};
pub use profile::{
    BillingModeName, BillingSpec, CallLatencies, CreateStages, Price, PriceQuote, PriceSource,
    Profile,
};
pub use stockouts::{PoolKey, Stockout};

/// The profiles shipped in `fakes/`, by driver: `(driver, profile name)`.
pub const DRIVER_PROFILES: [(&str, &str); 6] = [
    ("amazonec2", "aws-ec2"),
    ("google", "gce"),
    ("digitalocean", "digitalocean"),
    ("hetzner", "hetzner"),
    ("azure", "azure"),
    ("openstack", "openstack"),
];

/// The default profile name for a docker-machine driver (`amazonec2 → aws-ec2`,
/// `google → gce`, others by their own name); `None` for drivers without a fake.
pub fn profile_name_for_driver(driver: &str) -> Option<&'static str> {
    DRIVER_PROFILES
        .iter()
        .find(|(d, _)| *d == driver)
        .map(|(_, p)| *p)
}

/// The `fakes/` folder of the source tree simrun was built from (for tests and for running
/// from a clone; an installed binary should be given the folder explicitly).
pub fn shipped_fakes_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fakes")
}

/// Why a profile could not be loaded. Every message names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// No such profile in the fakes folder.
    #[error("unknown fake-cloud profile {name:?}: no {path} (available: {available})")]
    NotFound {
        /// The requested name.
        name: String,
        /// Where it was looked for.
        path: String,
        /// Profiles present in the folder, comma-separated.
        available: String,
    },
    /// The file could not be read.
    #[error("cannot read fake-cloud profile {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        message: String,
    },
    /// TOML syntax, an unknown key, a wrong type or a bad distribution.
    #[error("fake-cloud profile {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The TOML error, with line, column and key.
        message: String,
    },
    /// Values serde accepts but the model does not ([`Profile::validate`]).
    #[error("fake-cloud profile {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, naming the key.
        message: String,
    },
}

impl Profile {
    /// Loads a profile by name (`"gce"` → `fakes_dir/gce.toml`) or by path (anything with a
    /// `/` or ending in `.toml`, used as given).
    ///
    /// # Errors
    /// [`ProfileError`]: not found (listing the available names), unreadable, bad TOML or an
    /// invalid value.
    pub fn load(name_or_path: &str, fakes_dir: &Path) -> Result<Profile, ProfileError> {
        if name_or_path.contains('/') || name_or_path.ends_with(".toml") {
            return Profile::load_file(Path::new(name_or_path));
        }
        let path = fakes_dir.join(format!("{name_or_path}.toml"));
        if !path.is_file() {
            return Err(ProfileError::NotFound {
                name: name_or_path.to_string(),
                path: path.display().to_string(),
                available: available_profiles(fakes_dir).join(", "),
            });
        }
        Profile::load_file(&path)
    }

    /// Loads the profile for a runner's `MachineDriver` from `fakes_dir`.
    ///
    /// # Errors
    /// An unknown driver, or as [`Profile::load`].
    pub fn for_driver(driver: &str, fakes_dir: &Path) -> Result<Profile, ProfileError> {
        let name = profile_name_for_driver(driver).ok_or_else(|| ProfileError::NotFound {
            name: driver.to_string(),
            path: format!("(no profile for MachineDriver {driver:?})"),
            available: available_profiles(fakes_dir).join(", "),
        })?;
        Profile::load(name, fakes_dir)
    }

    /// Loads and validates one profile file.
    ///
    /// # Errors
    /// As [`Profile::load`].
    pub fn load_file(path: &Path) -> Result<Profile, ProfileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError::Io {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        Profile::from_toml(&text, &shown)
    }

    /// Parses and validates profile text; `origin` names it in errors.
    ///
    /// # Errors
    /// [`ProfileError::Parse`] or [`ProfileError::Invalid`].
    pub fn from_toml(text: &str, origin: &str) -> Result<Profile, ProfileError> {
        let profile: Profile = toml::from_str(text).map_err(|e| ProfileError::Parse {
            path: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        profile
            .validate()
            .map_err(|message| ProfileError::Invalid {
                path: origin.to_string(),
                message,
            })?;
        Ok(profile)
    }
}

/// Stems of the `*.toml` files in `dir`, sorted (empty when unreadable).
pub fn available_profiles(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            (p.extension()? == "toml").then(|| p.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fault_tests;
