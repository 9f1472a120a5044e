//! Names and ids with rules. Every value here is validated when it is made —
//! by `parse`, `FromStr` or serde — so an invalid one cannot exist past the
//! edge of the system. This crate depends on nothing of acrylic's; every other
//! crate depends on it.

mod digest;
mod ids;
mod names;

pub use digest::{Digest, DigestAlgorithm};
pub use ids::{ObjectId, RegistryId, SubscriptionId, TenantId, UploadId};
pub use names::{ArmScope, Reference, RegistryName, RepositoryName, ResourceGroupName, Tag};

/// Why a value was refused. The message names the rule that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: {reason}")]
pub struct InvalidName {
    pub kind: &'static str,
    pub reason: String,
}

impl InvalidName {
    pub(crate) fn new(kind: &'static str, reason: impl Into<String>) -> Self {
        Self {
            kind,
            reason: reason.into(),
        }
    }
}
