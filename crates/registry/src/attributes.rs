//! ACR's changeable attributes, enforced: the one place that decides what
//! `deleteEnabled`, `writeEnabled`, `readEnabled` and `listEnabled` refuse,
//! so `/v2/` and `/acr/v1/` agree.
//!
//! The rules, from ACR's "Lock a container image" article
//! (container-registry-image-lock.md) and its notes:
//!
//! | attribute false on | refuses |
//! |---|---|
//! | repository `writeEnabled` | pushing a manifest into it, deleting any of its manifests, tags or blobs, deleting it ("lock a repository and all images in it") |
//! | repository `deleteEnabled` | deleting the repository; its images can still be updated and deleted |
//! | repository `readEnabled` | pulling any manifest of it (GET/HEAD) |
//! | repository `listEnabled` | listing it in `/v2/_catalog` and `/acr/v1/_catalog` |
//! | tag `writeEnabled` | pushing to the tag (overwriting it), deleting it, deleting the manifest it points at |
//! | tag `deleteEnabled` | deleting it, deleting the manifest it points at |
//! | tag `readEnabled` | pulling by the tag |
//! | tag `listEnabled` | listing it in `tags/list`, `_tags` and a manifest's `tags` in `_manifests` |
//! | manifest `writeEnabled` | pushing it again by digest, deleting it |
//! | manifest `deleteEnabled` | deleting it |
//! | manifest `readEnabled` | pulling it, by digest or by any tag |
//! | manifest `listEnabled` | listing it in `_manifests` |
//!
//! ("If the image attributes are set with `writeEnabled=false` or
//! `deleteEnabled=false`, then it will block image deletion.") Tag and
//! manifest attributes are separate: locking a tag does not lock its
//! manifest, but the manifest cannot be deleted while a locked tag points
//! at it, since deleting a manifest deletes its tags. Pushing a new tag
//! that points at a locked manifest is allowed: it changes neither.
//! Attributes never block changing attributes (that is how one unlocks),
//! direct metadata reads, or blob pulls. A refusal is
//! [`RegistryError::Disallowed`], whose message names the attribute and how
//! to set it back.

use std::fmt;

use acrylic_model::{Digest, Reference, RepositoryName, Tag};
use acrylic_store::{
    AttributeTarget, ChangeableAttributes, ListOrder, ManifestDetail, ManifestQuery, Page, TagQuery,
};

use crate::{RegistryError, Repository, Result};

/// A PATCH of changeable attributes: absent fields keep their value
/// (`/acr/v1` PATCH bodies name only what changes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttributesPatch {
    pub delete_enabled: Option<bool>,
    pub write_enabled: Option<bool>,
    pub read_enabled: Option<bool>,
    pub list_enabled: Option<bool>,
}

impl AttributesPatch {
    pub fn apply(&self, to: ChangeableAttributes) -> ChangeableAttributes {
        ChangeableAttributes {
            delete_enabled: self.delete_enabled.unwrap_or(to.delete_enabled),
            write_enabled: self.write_enabled.unwrap_or(to.write_enabled),
            read_enabled: self.read_enabled.unwrap_or(to.read_enabled),
            list_enabled: self.list_enabled.unwrap_or(to.list_enabled),
        }
    }
}

/// An attribute that can refuse an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute {
    Delete,
    Write,
    Read,
}

impl Attribute {
    /// Its name in `changeableAttributes`.
    pub fn as_str(self) -> &'static str {
        match self {
            Attribute::Delete => "deleteEnabled",
            Attribute::Write => "writeEnabled",
            Attribute::Read => "readEnabled",
        }
    }

    /// `az acr repository update`'s flag for it.
    fn flag(self) -> &'static str {
        match self {
            Attribute::Delete => "--delete-enabled",
            Attribute::Write => "--write-enabled",
            Attribute::Read => "--read-enabled",
        }
    }

    fn is_enabled(self, a: &ChangeableAttributes) -> bool {
        match self {
            Attribute::Delete => a.delete_enabled,
            Attribute::Write => a.write_enabled,
            Attribute::Read => a.read_enabled,
        }
    }
}

/// What an attribute protects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locked {
    Repository(RepositoryName),
    Tag(RepositoryName, Tag),
    Manifest(RepositoryName, Digest),
}

impl Locked {
    /// The `/acr/v1` path whose PATCH changes the attribute.
    pub fn path(&self) -> String {
        match self {
            Locked::Repository(r) => format!("/acr/v1/{r}"),
            Locked::Tag(r, t) => format!("/acr/v1/{r}/_tags/{t}"),
            Locked::Manifest(r, d) => format!("/acr/v1/{r}/_manifests/{d}"),
        }
    }

    /// How `az acr repository update` names it.
    fn az_target(&self) -> String {
        match self {
            Locked::Repository(r) => format!("--repository {r}"),
            Locked::Tag(r, t) => format!("--image {r}:{t}"),
            Locked::Manifest(r, d) => format!("--image {r}@{d}"),
        }
    }
}

impl fmt::Display for Locked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Locked::Repository(r) => write!(f, "repository {r}"),
            Locked::Tag(r, t) => write!(f, "tag {r}:{t}"),
            Locked::Manifest(r, d) => write!(f, "manifest {r}@{d}"),
        }
    }
}

/// Why an operation was refused: `attribute` is false on `on`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disallowed {
    pub on: Locked,
    pub attribute: Attribute,
}

impl fmt::Display for Disallowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = self.attribute.as_str();
        write!(
            f,
            "the operation is disallowed on {on}: its {a} attribute is false. To allow it, set {a} \
             to true: PATCH {path} with {{\"{a}\":true}}, or az acr repository update --name \
             <registry> {target} {flag} true",
            on = self.on,
            path = self.on.path(),
            target = self.on.az_target(),
            flag = self.attribute.flag(),
        )
    }
}

/// Refuses when any of `which` is false in `attributes`, naming the first.
fn refuse(
    on: impl FnOnce() -> Locked,
    attributes: &ChangeableAttributes,
    which: &[Attribute],
) -> Result<()> {
    match which.iter().find(|a| !a.is_enabled(attributes)) {
        Some(attribute) => Err(RegistryError::Disallowed(Disallowed {
            on: on(),
            attribute: *attribute,
        })),
        None => Ok(()),
    }
}

/// What refuses a deletion, most specific first.
const DELETION: [Attribute; 2] = [Attribute::Delete, Attribute::Write];

impl Repository {
    async fn attributes_of(
        &self,
        target: AttributeTarget<'_>,
    ) -> Result<Option<ChangeableAttributes>> {
        Ok(self
            .meta
            .find_attributes(&self.registry, &self.name, target)
            .await?)
    }

    fn locked_repository(&self) -> Locked {
        Locked::Repository(self.name.clone())
    }

    /// Before a manifest PUT: the repository and the tag (or the manifest,
    /// by digest) must be writable. A repository that does not exist yet
    /// has nothing locked.
    pub(crate) async fn check_push(&self, reference: &Reference) -> Result<()> {
        let Some(repository) = self.attributes_of(AttributeTarget::Repository).await? else {
            return Ok(());
        };
        refuse(
            || self.locked_repository(),
            &repository,
            &[Attribute::Write],
        )?;
        let (target, on) = match reference {
            Reference::Tag(t) => (
                AttributeTarget::Tag(t),
                Locked::Tag(self.name.clone(), t.clone()),
            ),
            Reference::Digest(d) => (
                AttributeTarget::Manifest(d),
                Locked::Manifest(self.name.clone(), d.clone()),
            ),
        };
        if let Some(a) = self.attributes_of(target).await? {
            refuse(|| on, &a, &[Attribute::Write])?;
        }
        Ok(())
    }

    /// Resolves a reference for a pull (GET/HEAD manifest): MANIFEST_UNKNOWN
    /// when absent, else refused when the repository, the tag or the
    /// manifest is not readable.
    pub(crate) async fn resolve_for_pull(&self, reference: &Reference) -> Result<ManifestDetail> {
        let unknown = || RegistryError::ManifestUnknown {
            reference: reference.clone(),
        };
        let (digest, tag) = match reference {
            Reference::Digest(d) => (d.clone(), None),
            Reference::Tag(t) => {
                let detail = self
                    .meta
                    .find_tag_detail(&self.registry, &self.name, t)
                    .await?
                    .ok_or_else(unknown)?;
                (detail.record.digest, Some((t, detail.attributes)))
            }
        };
        let manifest = self
            .meta
            .find_manifest_detail(&self.registry, &self.name, &digest)
            .await?
            .ok_or_else(unknown)?;
        let repository = self
            .attributes_of(AttributeTarget::Repository)
            .await?
            .unwrap_or_default();
        refuse(|| self.locked_repository(), &repository, &[Attribute::Read])?;
        if let Some((t, attributes)) = tag {
            refuse(
                || Locked::Tag(self.name.clone(), t.clone()),
                &attributes,
                &[Attribute::Read],
            )?;
        }
        refuse(
            || Locked::Manifest(self.name.clone(), digest.clone()),
            &manifest.attributes,
            &[Attribute::Read],
        )?;
        Ok(manifest)
    }

    /// Before deleting a manifest (by digest: with its tags) or a tag. An
    /// absent target passes, so the deletion reports it unknown.
    pub(crate) async fn check_delete_manifest(&self, reference: &Reference) -> Result<()> {
        match reference {
            Reference::Tag(t) => {
                let Some(a) = self.attributes_of(AttributeTarget::Tag(t)).await? else {
                    return Ok(());
                };
                self.check_repository_writable().await?;
                refuse(|| Locked::Tag(self.name.clone(), t.clone()), &a, &DELETION)
            }
            Reference::Digest(d) => {
                let Some(a) = self.attributes_of(AttributeTarget::Manifest(d)).await? else {
                    return Ok(());
                };
                self.check_repository_writable().await?;
                refuse(
                    || Locked::Manifest(self.name.clone(), d.clone()),
                    &a,
                    &DELETION,
                )?;
                let query = TagQuery {
                    digest: Some(d.clone()),
                    ..TagQuery::default()
                };
                for tag in self
                    .meta
                    .list_tag_details(&self.registry, &self.name, &query)
                    .await?
                {
                    refuse(
                        || Locked::Tag(self.name.clone(), tag.record.name.clone()),
                        &tag.attributes,
                        &DELETION,
                    )?;
                }
                Ok(())
            }
        }
    }

    /// Before deleting a blob link: the repository must be writable.
    pub(crate) async fn check_repository_writable(&self) -> Result<()> {
        match self.attributes_of(AttributeTarget::Repository).await? {
            Some(a) => refuse(|| self.locked_repository(), &a, &[Attribute::Write]),
            None => Ok(()),
        }
    }

    /// Before deleting the whole repository: it must be deletable and
    /// writable, and so must every manifest and tag in it.
    pub(crate) async fn check_delete_repository(&self) -> Result<()> {
        let Some(a) = self.attributes_of(AttributeTarget::Repository).await? else {
            return Ok(());
        };
        refuse(|| self.locked_repository(), &a, &DELETION)?;
        let everything = Page::default();
        let manifests = ManifestQuery {
            page: everything.clone(),
            order: ListOrder::Name,
            listed_only: false,
        };
        for m in self
            .meta
            .list_manifest_details(&self.registry, &self.name, &manifests)
            .await?
        {
            refuse(
                || Locked::Manifest(self.name.clone(), m.record.digest.clone()),
                &m.attributes,
                &DELETION,
            )?;
        }
        let tags = TagQuery {
            page: everything,
            ..TagQuery::default()
        };
        for t in self
            .meta
            .list_tag_details(&self.registry, &self.name, &tags)
            .await?
        {
            refuse(
                || Locked::Tag(self.name.clone(), t.record.name.clone()),
                &t.attributes,
                &DELETION,
            )?;
        }
        Ok(())
    }
}
