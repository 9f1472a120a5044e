use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Digest, InvalidName};

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
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
                v.0
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// Longest repository name accepted. distribution caps the whole reference
/// (host included) at 255; ACR documents no lower limit for the path.
pub const MAX_REPOSITORY_NAME: usize = 255;

/// A repository name per OCI dist-spec's grammar:
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`.
/// Because `.` may only stand between alphanumerics, `..`, `.` and empty
/// components can never appear, so a name is always safe as a key prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RepositoryName(String);

impl RepositoryName {
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        const KIND: &str = "repository name";
        if s.is_empty() {
            return Err(InvalidName::new(KIND, "empty"));
        }
        if s.len() > MAX_REPOSITORY_NAME {
            return Err(InvalidName::new(
                KIND,
                format!("longer than {MAX_REPOSITORY_NAME} characters"),
            ));
        }
        for component in s.split('/') {
            if !valid_component(component) {
                return Err(InvalidName::new(
                    KIND,
                    format!(
                        "component {component:?} must be lowercase letters and digits, \
                         separated by '.', '_', '__' or dashes"
                    ),
                ));
            }
        }
        Ok(Self(s.to_owned()))
    }
}
string_newtype!(RepositoryName);

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// A tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}` (OCI dist-spec).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Tag(String);

impl Tag {
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        let b = s.as_bytes();
        let first = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
        let rest = |x: u8| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'-');
        if b.is_empty() || b.len() > 128 || !first(b[0]) || !b[1..].iter().all(|&x| rest(x)) {
            return Err(InvalidName::new(
                "tag",
                "must match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}",
            ));
        }
        Ok(Self(s.to_owned()))
    }
}
string_newtype!(Tag);

/// What follows `/manifests/`: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reference {
    Tag(Tag),
    Digest(Digest),
}

impl Reference {
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        if s.contains(':') {
            Digest::parse(s).map(Reference::Digest)
        } else {
            Tag::parse(s).map(Reference::Tag)
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Tag(t) => t.fmt(f),
            Reference::Digest(d) => d.fmt(f),
        }
    }
}

/// A registry name: 5–50 ASCII letters and digits (ARM's rule), kept
/// lowercase because the login server is the lowercased name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegistryName(String);

impl RegistryName {
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        if !(5..=50).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(InvalidName::new(
                "registry name",
                "a registry name may contain only alphanumeric characters and must be \
                 between 5 and 50 characters",
            ));
        }
        Ok(Self(s.to_ascii_lowercase()))
    }
}
string_newtype!(RegistryName);

/// A resource group name: 1–90 of letters, digits, `-_.()`, not ending in `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResourceGroupName(String);

impl ResourceGroupName {
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        let ok = (1..=90).contains(&s.len())
            && s.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'(' | b')')
            })
            && !s.ends_with('.');
        if !ok {
            return Err(InvalidName::new(
                "resource group name",
                "use 1-90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.'",
            ));
        }
        Ok(Self(s.to_owned()))
    }
}
string_newtype!(ResourceGroupName);

/// An ARM scope: `/`, or a resource id such as
/// `/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerRegistry/registries/{name}`.
/// Scopes compare case-insensitively, as ARM does.
#[derive(Debug, Clone, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ArmScope(String);

impl ArmScope {
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        const KIND: &str = "scope";
        if s == "/" {
            return Ok(Self(s.to_owned()));
        }
        let trimmed = s.strip_suffix('/').unwrap_or(s);
        if !trimmed.starts_with('/') || trimmed.len() > 1024 {
            return Err(InvalidName::new(KIND, "must start with '/'"));
        }
        for seg in trimmed[1..].split('/') {
            let ok = !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'(' | b')')
                });
            if !ok {
                return Err(InvalidName::new(KIND, format!("bad segment {seg:?}")));
            }
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// `/`: the tenant root (directory role assignments live here).
    pub fn root() -> Self {
        Self("/".to_owned())
    }

    pub fn subscription(sub: &crate::SubscriptionId) -> Self {
        Self(format!("/subscriptions/{sub}"))
    }

    pub fn resource_group(sub: &crate::SubscriptionId, rg: &ResourceGroupName) -> Self {
        Self(format!("/subscriptions/{sub}/resourceGroups/{rg}"))
    }

    pub fn registry(
        sub: &crate::SubscriptionId,
        rg: &ResourceGroupName,
        name: &RegistryName,
    ) -> Self {
        Self(format!(
            "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerRegistry/registries/{name}"
        ))
    }

    /// Does this scope contain `other` (equal to it, or an ancestor of it)?
    pub fn contains(&self, other: &ArmScope) -> bool {
        if self.0 == "/" {
            return true;
        }
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        b.len() >= a.len()
            && b[..a.len()].eq_ignore_ascii_case(a)
            && (b.len() == a.len() || b[a.len()] == b'/')
    }
}

impl PartialEq for ArmScope {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl std::hash::Hash for ArmScope {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.to_ascii_lowercase().hash(state)
    }
}
string_newtype!(ArmScope);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names() {
        for ok in [
            "a",
            "library/hello-world",
            "a__b",
            "a--b/c.d_e",
            "x/y/z",
            "a0-9",
        ] {
            assert!(RepositoryName::parse(ok).is_ok(), "{ok} refused");
        }
        for bad in [
            "", "A", "a/", "/a", "a//b", "..", "a/../b", "a/./b", ".a", "a.", "a___b", "a..b",
            "a%2Fb", "a b", "a\\b", "a/-b", "-a", "a_.b",
        ] {
            assert!(RepositoryName::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(RepositoryName::parse(&"a".repeat(255)).is_ok());
        assert!(RepositoryName::parse(&"a".repeat(256)).is_err());
    }

    #[test]
    fn tags_and_references() {
        assert!(Tag::parse("v1.0_rc-2").is_ok());
        assert!(Tag::parse(&"a".repeat(128)).is_ok());
        for bad in ["", ".a", "-a", "a/b", "a:b", &"a".repeat(129)] {
            assert!(Tag::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(matches!(Reference::parse("latest"), Ok(Reference::Tag(_))));
        assert!(matches!(
            Reference::parse(&format!("sha256:{}", "0".repeat(64))),
            Ok(Reference::Digest(_))
        ));
        assert!(Reference::parse("sha256:zz").is_err());
    }

    #[test]
    fn registry_names_lowercase() {
        assert_eq!(
            RegistryName::parse("MyReg1").map(|r| r.to_string()),
            Ok("myreg1".into())
        );
        for bad in ["abcd", "my-reg", "my_reg", &"a".repeat(51)] {
            assert!(RegistryName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn scopes_contain_at_segment_boundaries() {
        let sub = ArmScope::parse("/subscriptions/abc").expect("valid");
        let rg = ArmScope::parse("/Subscriptions/ABC/resourceGroups/rg").expect("valid");
        let other = ArmScope::parse("/subscriptions/abcd/resourceGroups/rg").expect("valid");
        assert!(sub.contains(&rg));
        assert!(sub.contains(&sub));
        assert!(!sub.contains(&other));
        assert!(!rg.contains(&sub));
        assert!(ArmScope::parse("/").expect("root").contains(&rg));
        assert!(ArmScope::parse("/subscriptions/../x").is_err());
        assert!(ArmScope::parse("subscriptions/x").is_err());
    }
}
