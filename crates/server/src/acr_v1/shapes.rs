//! The JSON bodies of `/acr/v1/` (acr-auth.md §4.3; azure-containerregistry's
//! generated models): camelCase keys, RFC 3339 UTC times, and the
//! `changeableAttributes` object on every repository, tag and manifest.

use acrylic_registry::{
    AttributesPatch, ChangeableAttributes, ManifestMetadata, RepositoryDetail, TagDetail,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// `changeableAttributes`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attributes {
    pub delete_enabled: bool,
    pub write_enabled: bool,
    pub read_enabled: bool,
    pub list_enabled: bool,
}

impl From<ChangeableAttributes> for Attributes {
    fn from(a: ChangeableAttributes) -> Self {
        Self {
            delete_enabled: a.delete_enabled,
            write_enabled: a.write_enabled,
            read_enabled: a.read_enabled,
            list_enabled: a.list_enabled,
        }
    }
}

/// A PATCH body: the attributes to change. Absent or `null` fields keep
/// their value; others ACR knows (`teleportEnabled`) are accepted and
/// ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributesBody {
    pub delete_enabled: Option<bool>,
    pub write_enabled: Option<bool>,
    pub read_enabled: Option<bool>,
    pub list_enabled: Option<bool>,
}

impl From<AttributesBody> for AttributesPatch {
    fn from(b: AttributesBody) -> Self {
        Self {
            delete_enabled: b.delete_enabled,
            write_enabled: b.write_enabled,
            read_enabled: b.read_enabled,
            list_enabled: b.list_enabled,
        }
    }
}

/// `GET /acr/v1/_catalog`. An empty page is `null`, as ACR sends it.
#[derive(Debug, Serialize)]
pub struct Catalog {
    pub repositories: Option<Vec<String>>,
}

/// `GET/PATCH /acr/v1/<name>`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryProperties {
    /// The login server.
    pub registry: String,
    pub image_name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_update_time: OffsetDateTime,
    pub manifest_count: u64,
    pub tag_count: u64,
    pub changeable_attributes: Attributes,
}

impl RepositoryProperties {
    pub fn new(registry: &str, d: RepositoryDetail) -> Self {
        Self {
            registry: registry.to_owned(),
            image_name: d.record.name.to_string(),
            created_time: d.record.created_at,
            last_update_time: d.record.updated_at,
            manifest_count: d.manifest_count,
            tag_count: d.tag_count,
            changeable_attributes: d.attributes.into(),
        }
    }
}

/// One tag, in `tags` or under `tag`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TagProperties {
    pub name: String,
    pub digest: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_update_time: OffsetDateTime,
    /// Docker Content Trust signing, which acrylic does not offer.
    pub signed: bool,
    pub changeable_attributes: Attributes,
}

impl From<TagDetail> for TagProperties {
    fn from(t: TagDetail) -> Self {
        Self {
            name: t.record.name.to_string(),
            digest: t.record.digest.to_string(),
            created_time: t.record.created_at,
            last_update_time: t.record.updated_at,
            signed: false,
            changeable_attributes: t.attributes.into(),
        }
    }
}

/// `GET /acr/v1/<name>/_tags`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TagList {
    pub registry: String,
    pub image_name: String,
    pub tags: Vec<TagProperties>,
}

/// `GET/PATCH /acr/v1/<name>/_tags/<tag>`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OneTag {
    pub registry: String,
    pub image_name: String,
    pub tag: TagProperties,
}

/// One manifest, in `manifests` or under `manifest`. `architecture`, `os`
/// and `configMediaType` are left out when unknown (an index, an
/// artifact).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestProperties {
    pub digest: String,
    pub image_size: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_update_time: OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    pub media_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_media_type: Option<String>,
    pub tags: Vec<String>,
    pub changeable_attributes: Attributes,
}

impl From<ManifestMetadata> for ManifestProperties {
    fn from(m: ManifestMetadata) -> Self {
        let d = m.detail;
        Self {
            digest: d.record.digest.to_string(),
            image_size: d.record.size,
            created_time: d.record.created_at,
            last_update_time: d.updated_at,
            architecture: d.config.architecture,
            os: d.config.os,
            media_type: d.record.media_type,
            config_media_type: d.config.media_type,
            tags: m.tags.iter().map(ToString::to_string).collect(),
            changeable_attributes: d.attributes.into(),
        }
    }
}

/// `GET /acr/v1/<name>/_manifests`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestList {
    pub registry: String,
    pub image_name: String,
    pub manifests: Vec<ManifestProperties>,
}

/// `GET/PATCH /acr/v1/<name>/_manifests/<digest>`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OneManifest {
    pub registry: String,
    pub image_name: String,
    pub manifest: ManifestProperties,
}
