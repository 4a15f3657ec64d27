//! A snapshot of the local machine store (spec §2.5 "Listing order"; module docs of
//! [`crate::cloud`] for why it is passed with every input).

/// The names under `$MACHINE_STORAGE_PATH/machines` at one instant, or the error reading them.
///
/// The real driver lists directory names **sorted by name** (spec §2.5); GitLab Runner's own
/// tests use a fake driver that lists in insertion order (spec §5.4). The core uses the order it
/// is given: build with [`StoreListing::sorted`] for the real behaviour, [`StoreListing::new`]
/// to keep an order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreListing {
    names: Vec<String>,
    error: Option<String>,
}

impl StoreListing {
    /// A listing in the given order.
    pub fn new(names: Vec<String>) -> Self {
        StoreListing { names, error: None }
    }

    /// A listing sorted by name, as docker-machine's directory read gives it (spec §2.5).
    pub fn sorted(mut names: Vec<String>) -> Self {
        names.sort();
        StoreListing { names, error: None }
    }

    /// An empty store (a missing directory also lists as empty, spec §2.5).
    pub fn empty() -> Self {
        StoreListing::default()
    }

    /// A store that cannot be read: Acquire returns this error (spec §3.4 step 3) and Use's
    /// find-existing fails with it (spec §0 M13).
    pub fn failed(message: impl Into<String>) -> Self {
        StoreListing {
            names: Vec::new(),
            error: Some(message.into()),
        }
    }

    /// The names, or the read error.
    pub fn names(&self) -> Result<&[String], &str> {
        match &self.error {
            Some(e) => Err(e),
            None => Ok(&self.names),
        }
    }

    /// Adds a name at the end (keeps insertion order).
    pub fn push(&mut self, name: impl Into<String>) {
        self.names.push(name.into());
    }

    /// Removes a name; true if it was present.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.names.len();
        self.names.retain(|n| n != name);
        before != self.names.len()
    }

    /// Whether `name` is listed.
    pub fn contains(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }
}
