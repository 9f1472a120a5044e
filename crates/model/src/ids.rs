use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::InvalidName;

macro_rules! guid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Uuid);

        impl $name {
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }
            pub fn parse(s: &str) -> Result<Self, InvalidName> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| InvalidName::new($kind, "expected a GUID"))
            }
            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // Azure writes GUIDs lowercase and hyphenated.
                write!(f, "{}", self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = InvalidName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidName;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.to_string()
            }
        }
    };
}

guid_id!(
    /// A directory tenant (Entra `tid`).
    TenantId,
    "tenant id"
);
guid_id!(
    /// The object id of a directory principal (Entra `oid`): user, service
    /// principal, managed identity or group.
    ObjectId,
    "object id"
);
guid_id!(
    /// An ARM subscription id.
    SubscriptionId,
    "subscription id"
);
guid_id!(
    /// A blob upload session (OCI dist-spec: the `<reference>` in upload URLs).
    UploadId,
    "upload id"
);

/// A registry's internal id: 32 lowercase hex characters, as ACR's `rid` claim.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegistryId(String);

impl RegistryId {
    pub fn new_random() -> Self {
        Self(Uuid::new_v4().simple().to_string())
    }
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        if s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidName::new(
                "registry id",
                "expected 32 lowercase hex characters",
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RegistryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for RegistryId {
    type Error = InvalidName;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<RegistryId> for String {
    fn from(v: RegistryId) -> String {
        v.0
    }
}
