//! OCI Distribution Spec v1.1 rules: uploads, blobs, manifests, tags,
//! mounts, referrers and listings, over the two store traits.
//!
//! Calls go one way: the `/v2/` surface (acrylic-server `oci`) →
//! [`Distribution`] / [`Repository`] → `MetaStore` + `BlobStore`. This crate
//! knows nothing of HTTP, SQL or object storage. Every operation is scoped
//! to one registry and one repository, which is what makes repository
//! isolation hold: a blob is reachable through a repository only if it is
//! linked there (pushed or mounted), whatever its digest.
//!
//! Operations that change state take an [`acrylic_authz::Permit`] for the
//! matching action, so they cannot be called without `authorize` having
//! granted it.
//!
//! ACR's metadata API (`/acr/v1/…`, acrylic-server `acr_v1`) calls the
//! same [`Repository`] for its detailed listings and attribute updates
//! (`metadata.rs`); ACR's changeable attributes are enforced for both
//! surfaces in `attributes.rs`.

#![cfg_attr(test, allow(clippy::unwrap_used))]

use std::sync::Arc;

use acrylic_authz::{Action, Permit, RepoAction};
use acrylic_model::{RegistryId, RepositoryName};
use acrylic_store::{BlobStore, MetaStore, Page};

mod attributes;
mod blob;
mod error;
mod manifest;
mod metadata;
mod referrers;
mod upload;

pub use acrylic_store::{
    ChangeableAttributes, ListOrder, ManifestConfig, ManifestDetail, RepositoryDetail, TagDetail,
};
pub use attributes::{Attribute, AttributesPatch, Disallowed, Locked};
pub use metadata::{ManifestMetadata, MetadataQuery};

pub use blob::{BlobRead, ByteRange};
pub use error::{RegistryError, Result};
pub use manifest::{
    DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, MAX_MANIFEST_SIZE, ManifestInfo, OCI_INDEX,
    OCI_MANIFEST, PushedManifest,
};
pub use referrers::{Referrers, ReferrersIndex};
pub use upload::{Mount, UploadStatus};

/// The largest page a listing returns, whatever `n` asks for (dist-spec
/// lets a registry return fewer than `n` and a `Link` to the rest).
pub const MAX_PAGE: u32 = 1000;

/// Entry point: the OCI content of every registry on this server.
/// Cheap to clone and to build per request (two `Arc`s).
#[derive(Clone)]
pub struct Distribution {
    meta: Arc<dyn MetaStore>,
    blobs: Arc<dyn BlobStore>,
}

impl Distribution {
    pub fn new(meta: Arc<dyn MetaStore>, blobs: Arc<dyn BlobStore>) -> Self {
        Self { meta, blobs }
    }

    /// One repository of one registry. The repository need not exist yet
    /// (a push creates it).
    pub fn repository(&self, registry: RegistryId, name: RepositoryName) -> Repository {
        Repository {
            meta: self.meta.clone(),
            blobs: self.blobs.clone(),
            registry,
            name,
        }
    }

    /// `GET /v2/_catalog` and `/acr/v1/_catalog`: repository names in
    /// lexical order (dist-spec end-8a/8b style `n`/`last` pagination),
    /// leaving out repositories whose `listEnabled` is false.
    pub async fn catalog(
        &self,
        registry: &RegistryId,
        page: &PageRequest,
    ) -> Result<Listing<RepositoryName>> {
        let Some(n) = page.limit() else {
            return Ok(Listing::empty());
        };
        let items = self
            .meta
            .list_listed_repositories(registry, &page.store_page(n))
            .await?;
        Ok(Listing::cut(items, n, |r| r.to_string()))
    }
}

/// One repository of one registry: the scope of every content operation.
pub struct Repository {
    meta: Arc<dyn MetaStore>,
    blobs: Arc<dyn BlobStore>,
    registry: RegistryId,
    name: RepositoryName,
}

impl Repository {
    pub fn name(&self) -> &RepositoryName {
        &self.name
    }

    pub fn registry(&self) -> &RegistryId {
        &self.registry
    }

    /// `GET /v2/<name>/tags/list`: tags in lexical order, leaving out those
    /// whose `listEnabled` is false. NAME_UNKNOWN when the repository does
    /// not exist (dist-spec end-8a).
    pub async fn tags(&self, page: &PageRequest) -> Result<Listing<acrylic_model::Tag>> {
        if self
            .meta
            .find_repository(&self.registry, &self.name)
            .await?
            .is_none()
        {
            return Err(RegistryError::NameUnknown {
                name: self.name.clone(),
            });
        }
        let Some(n) = page.limit() else {
            return Ok(Listing::empty());
        };
        let query = acrylic_store::TagQuery {
            page: page.store_page(n),
            listed_only: true,
            ..acrylic_store::TagQuery::default()
        };
        let tags = self
            .meta
            .list_tag_details(&self.registry, &self.name, &query)
            .await?;
        let names = tags.into_iter().map(|t| t.record.name).collect();
        Ok(Listing::cut(names, n, |t| t.to_string()))
    }
}

impl Repository {
    /// Refuses a permit granted for another action, or for another
    /// repository or registry: a permit for repository A cannot act on B.
    /// `Permit::for_system_job` covers everything.
    pub(crate) fn require(&self, permit: &Permit, action: RepoAction) -> Result<()> {
        require_on(permit, &self.registry, &self.name, action)
    }
}

/// [`Repository::require`] for a repository other than the one acted on
/// (a mount's source).
pub(crate) fn require_on(
    permit: &Permit,
    registry: &RegistryId,
    name: &RepositoryName,
    action: RepoAction,
) -> Result<()> {
    let action_matches = match permit.action() {
        Action::System => true,
        Action::Repository(a) => *a == action,
        Action::CatalogList | Action::Arm(_) | Action::Directory(_) => false,
    };
    if action_matches && permit.covers_repository(registry, name) {
        Ok(())
    } else {
        Err(RegistryError::PermitMismatch {
            needed: action.as_str(),
        })
    }
}

/// `n` and `last` as the client sent them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub n: Option<u32>,
    pub last: Option<String>,
}

impl PageRequest {
    /// How many items to return; `None` when the client asked for zero.
    fn limit(&self) -> Option<u32> {
        match self.n {
            Some(0) => None,
            Some(n) => Some(n.min(MAX_PAGE)),
            None => Some(MAX_PAGE),
        }
    }

    /// One more than asked for, to learn whether a next page exists.
    fn store_page(&self, n: u32) -> Page {
        Page {
            last: self.last.clone(),
            n: Some(n + 1),
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    /// When more items follow: the `last` to ask for the next page with.
    pub next: Option<String>,
}

impl<T> Listing<T> {
    fn empty() -> Self {
        Self {
            items: Vec::new(),
            next: None,
        }
    }

    fn cut(mut items: Vec<T>, n: u32, key: impl Fn(&T) -> String) -> Self {
        let n = n as usize;
        let next = if items.len() > n {
            items.truncate(n);
            items.last().map(key)
        } else {
            None
        };
        Self { items, next }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod metadata_tests;
