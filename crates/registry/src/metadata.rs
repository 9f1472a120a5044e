//! ACR's repository metadata, as `/acr/v1/…` serves it (acr-auth.md §4.3):
//! a repository's attributes and counts, tags and manifests with their
//! times, config details and changeable attributes, detailed listings with
//! `orderby`, attribute updates, untagging and deleting a repository.
//!
//! Reads take no permit (as pulls do not); changes take a permit for
//! `metadata_write` (attribute updates) or `delete` (untag, delete
//! repository). What the attributes refuse is decided in `attributes.rs`.

use acrylic_authz::{Permit, RepoAction};
use acrylic_model::{Digest, Reference, Tag};
use acrylic_store::{
    AttributeTarget, ListOrder, ManifestDetail, ManifestQuery, RepositoryDetail, TagDetail,
    TagQuery,
};
use time::OffsetDateTime;

use crate::attributes::AttributesPatch;
use crate::{Listing, PageRequest, RegistryError, Repository, Result};

/// A `_tags` or `_manifests` listing request: `n`, `last`, `orderby`, and
/// for tags the `digest` filter. Items whose `listEnabled` is false are
/// left out, as ACR hides them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataQuery {
    pub page: PageRequest,
    pub order: ListOrder,
    /// Only tags pointing at this manifest (`_tags?digest=`).
    pub digest: Option<Digest>,
}

/// A manifest as `_manifests` reports it: its detail and its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestMetadata {
    pub detail: ManifestDetail,
    pub tags: Vec<Tag>,
}

impl Repository {
    fn name_unknown(&self) -> RegistryError {
        RegistryError::NameUnknown {
            name: self.name.clone(),
        }
    }

    async fn require_exists(&self) -> Result<()> {
        match self
            .meta
            .find_repository(&self.registry, &self.name)
            .await?
        {
            Some(_) => Ok(()),
            None => Err(self.name_unknown()),
        }
    }

    /// `GET /acr/v1/<name>`: attributes and counts; NAME_UNKNOWN if absent.
    pub async fn details(&self) -> Result<RepositoryDetail> {
        self.meta
            .find_repository_detail(&self.registry, &self.name)
            .await?
            .ok_or_else(|| self.name_unknown())
    }

    /// `PATCH /acr/v1/<name>`.
    pub async fn update_attributes(
        &self,
        permit: &Permit,
        patch: &AttributesPatch,
    ) -> Result<RepositoryDetail> {
        self.require(permit, RepoAction::MetadataWrite)?;
        let current = self.details().await?;
        self.meta
            .set_attributes(
                &self.registry,
                &self.name,
                AttributeTarget::Repository,
                &patch.apply(current.attributes),
                OffsetDateTime::now_utc(),
            )
            .await?;
        self.details().await
    }

    /// `DELETE /acr/v1/<name>`: the repository with every manifest, tag and
    /// blob link in it (bytes are left to garbage collection). Refused when
    /// it or anything in it is locked; NAME_UNKNOWN if absent.
    pub async fn delete_repository(&self, permit: &Permit) -> Result<()> {
        self.require(permit, RepoAction::Delete)?;
        self.require_exists().await?;
        self.check_delete_repository().await?;
        if self
            .meta
            .delete_repository(&self.registry, &self.name)
            .await?
        {
            Ok(())
        } else {
            Err(self.name_unknown())
        }
    }

    /// `GET /acr/v1/<name>/_tags`: NAME_UNKNOWN when the repository does
    /// not exist.
    pub async fn tag_details(&self, query: &MetadataQuery) -> Result<Listing<TagDetail>> {
        self.require_exists().await?;
        let Some(n) = query.page.limit() else {
            return Ok(Listing::empty());
        };
        let store_query = TagQuery {
            page: query.page.store_page(n),
            order: query.order,
            digest: query.digest.clone(),
            listed_only: true,
        };
        let tags = self
            .meta
            .list_tag_details(&self.registry, &self.name, &store_query)
            .await?;
        Ok(Listing::cut(tags, n, |t| t.record.name.to_string()))
    }

    /// `GET /acr/v1/<name>/_tags/<tag>`.
    pub async fn tag_detail(&self, tag: &Tag) -> Result<TagDetail> {
        self.meta
            .find_tag_detail(&self.registry, &self.name, tag)
            .await?
            .ok_or_else(|| RegistryError::TagUnknown { tag: tag.clone() })
    }

    /// `PATCH /acr/v1/<name>/_tags/<tag>`.
    pub async fn update_tag_attributes(
        &self,
        permit: &Permit,
        tag: &Tag,
        patch: &AttributesPatch,
    ) -> Result<TagDetail> {
        self.require(permit, RepoAction::MetadataWrite)?;
        let current = self.tag_detail(tag).await?;
        self.meta
            .set_attributes(
                &self.registry,
                &self.name,
                AttributeTarget::Tag(tag),
                &patch.apply(current.attributes),
                OffsetDateTime::now_utc(),
            )
            .await?;
        self.tag_detail(tag).await
    }

    /// `DELETE /acr/v1/<name>/_tags/<tag>`: removes the tag, not the
    /// manifest. Takes a `delete` permit: az CLI asks for `delete` to untag
    /// (acr-auth.md §1.2, §6.3).
    pub async fn untag(&self, permit: &Permit, tag: &Tag) -> Result<()> {
        self.require(permit, RepoAction::Delete)?;
        self.check_delete_manifest(&Reference::Tag(tag.clone()))
            .await?;
        if self
            .meta
            .delete_tag(&self.registry, &self.name, tag)
            .await?
        {
            Ok(())
        } else {
            Err(RegistryError::TagUnknown { tag: tag.clone() })
        }
    }

    /// `GET /acr/v1/<name>/_manifests`: each manifest with its listed tags;
    /// NAME_UNKNOWN when the repository does not exist.
    pub async fn manifest_details(
        &self,
        query: &MetadataQuery,
    ) -> Result<Listing<ManifestMetadata>> {
        self.require_exists().await?;
        let Some(n) = query.page.limit() else {
            return Ok(Listing::empty());
        };
        let store_query = ManifestQuery {
            page: query.page.store_page(n),
            order: query.order,
            listed_only: true,
        };
        let manifests = self
            .meta
            .list_manifest_details(&self.registry, &self.name, &store_query)
            .await?;
        // One more than asked for was fetched to learn whether a next page
        // exists; its tags are not needed.
        let digests: Vec<Digest> = manifests
            .iter()
            .take(n as usize)
            .map(|m| m.record.digest.clone())
            .collect();
        let tags = self
            .meta
            .tags_of_manifests(&self.registry, &self.name, &digests, true)
            .await?;
        let items = manifests
            .into_iter()
            .map(|detail| ManifestMetadata {
                tags: tags
                    .iter()
                    .filter(|t| t.digest == detail.record.digest)
                    .map(|t| t.name.clone())
                    .collect(),
                detail,
            })
            .collect();
        Ok(Listing::cut(items, n, |m| {
            m.detail.record.digest.to_string()
        }))
    }

    /// `GET /acr/v1/<name>/_manifests/<digest>`: every tag of it, listed or
    /// not (a direct read, like `_tags/<tag>`).
    pub async fn manifest_metadata(&self, digest: &Digest) -> Result<ManifestMetadata> {
        let detail = self
            .meta
            .find_manifest_detail(&self.registry, &self.name, digest)
            .await?
            .ok_or_else(|| RegistryError::ManifestUnknown {
                reference: Reference::Digest(digest.clone()),
            })?;
        let tags = self
            .meta
            .tags_of_manifest(&self.registry, &self.name, digest)
            .await?;
        Ok(ManifestMetadata { detail, tags })
    }

    /// `PATCH /acr/v1/<name>/_manifests/<digest>`.
    pub async fn update_manifest_attributes(
        &self,
        permit: &Permit,
        digest: &Digest,
        patch: &AttributesPatch,
    ) -> Result<ManifestMetadata> {
        self.require(permit, RepoAction::MetadataWrite)?;
        let current = self.manifest_metadata(digest).await?;
        self.meta
            .set_attributes(
                &self.registry,
                &self.name,
                AttributeTarget::Manifest(digest),
                &patch.apply(current.detail.attributes),
                OffsetDateTime::now_utc(),
            )
            .await?;
        self.manifest_metadata(digest).await
    }
}
