use std::fmt;

/// A repository action, in the Docker token vocabulary ACR uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RepoAction {
    Pull,
    Push,
    Delete,
    MetadataRead,
    MetadataWrite,
}

impl RepoAction {
    pub const ALL: [RepoAction; 5] = [
        RepoAction::Pull,
        RepoAction::Push,
        RepoAction::Delete,
        RepoAction::MetadataRead,
        RepoAction::MetadataWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pull => "pull",
            Self::Push => "push",
            Self::Delete => "delete",
            Self::MetadataRead => "metadata_read",
            Self::MetadataWrite => "metadata_write",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for RepoAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Anything `authorize` can be asked about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    Repository(RepoAction),
    /// `registry:catalog:*`.
    CatalogList,
    /// A control-plane operation, e.g. `Microsoft.ContainerRegistry/registries/write`.
    Arm(String),
    /// A directory operation, e.g. `microsoft.directory/users/create`.
    Directory(String),
    /// Only in [`crate::Permit::for_system_job`].
    System,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Repository(a) => a.fmt(f),
            Action::CatalogList => f.write_str("*"),
            Action::Arm(op) | Action::Directory(op) => f.write_str(op),
            Action::System => f.write_str("system"),
        }
    }
}
