//! The referrers API (dist-spec end-12a/12b): manifests of this repository
//! whose `subject` is a given digest, as an OCI image index.

use acrylic_model::Digest;
use serde::Serialize;

use crate::manifest::OCI_INDEX;
use crate::{Repository, Result};

/// The response body: an OCI image index (image-spec image-index.md).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferrersIndex {
    pub schema_version: u32,
    pub media_type: &'static str,
    pub manifests: Vec<ReferrerDescriptor>,
}

/// One referrer. `artifactType` is the manifest's, or its config's media
/// type; `annotations` are the manifest's (dist-spec end-12a).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferrerDescriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<serde_json::Value>,
}

/// The referrers of one subject.
#[derive(Debug, Clone, PartialEq)]
pub struct Referrers {
    pub index: ReferrersIndex,
    /// Whether the `artifactType` filter was applied: the surface then sends
    /// `OCI-Filters-Applied: artifactType`.
    pub filtered: bool,
}

impl Repository {
    /// `GET /v2/<name>/referrers/<digest>[?artifactType=]`. Always an index,
    /// empty when nothing refers to `subject` or the subject is unknown
    /// (dist-spec: 200 either way).
    pub async fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Referrers> {
        // In push order, as the store lists them.
        let records = self
            .meta
            .list_referrers(&self.registry, &self.name, subject)
            .await?;
        let manifests = records
            .into_iter()
            .filter(|m| artifact_type.is_none_or(|want| m.artifact_type.as_deref() == Some(want)))
            .map(|m| ReferrerDescriptor {
                media_type: m.media_type,
                digest: m.digest,
                size: m.size,
                artifact_type: m.artifact_type,
                // Stored as the JSON text the client sent; a row that does
                // not parse is served without annotations rather than failing
                // the whole listing.
                annotations: m.annotations.and_then(|a| serde_json::from_str(&a).ok()),
            })
            .collect();
        Ok(Referrers {
            index: ReferrersIndex {
                schema_version: 2,
                media_type: OCI_INDEX,
                manifests,
            },
            filtered: artifact_type.is_some(),
        })
    }
}
