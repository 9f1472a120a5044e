//! Manifests (dist-spec end-3, end-7, end-9): validation, push, pull, delete.
//!
//! We parse manifests with small serde structs of our own rather than the
//! `oci-spec` crate: it brings a heavy builder dependency tree, and it is
//! strict in ways that reject valid artifacts (OCI 1.1 artifact manifests
//! with custom config media types, missing optional fields, Docker types).
//! We read only what the registry needs: the media type, the descriptors
//! whose existence we must check, `subject`, `artifactType` and
//! `annotations`. Unknown fields are ignored, and the stored bytes are the
//! client's bytes, untouched, so the digest always matches.
//!
//! The bytes live in the BlobStore under their digest (`put_verified`); the
//! MetaStore holds the record, the references and the tags.

use std::collections::HashSet;

use acrylic_authz::{Permit, RepoAction};
use acrylic_model::{Digest, DigestAlgorithm, Reference};
use acrylic_store::{ManifestConfig, ManifestRecord};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use serde::Deserialize;
use sha2::Digest as _;
use time::OffsetDateTime;

use crate::{RegistryError, Repository, Result};

/// Largest manifest accepted (dist-spec: "registries SHOULD accept at least
/// 4 MiB"; larger gets 413).
pub const MAX_MANIFEST_SIZE: usize = 4 * 1024 * 1024;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Config media types whose `architecture`/`os` ACR reports per manifest
/// (`/acr/v1/<name>/_manifests`). Other configs (artifacts) are not read.
const IMAGE_CONFIGS: [&str; 2] = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

/// Image configs larger than this are not read for `architecture`/`os`
/// (real ones are a few KiB; this bounds the work a push can cause).
const MAX_CONFIG_READ: usize = 1024 * 1024;

/// A stored manifest, as `HEAD` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestInfo {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
}

/// The result of a successful push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedManifest {
    pub digest: Digest,
    /// The `subject` the manifest names: the surface sends it back as
    /// `OCI-Subject` (dist-spec end-7, "Pushing manifests with subject").
    pub subject: Option<Digest>,
}

/// The fields of an image config ACR reports per manifest.
#[derive(Debug, Deserialize)]
struct Platform {
    architecture: Option<String>,
    os: Option<String>,
}

/// The fields we read. All optional here; which are required depends on the
/// media type and is checked in [`validate`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    schema_version: Option<u32>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    subject: Option<Descriptor>,
    annotations: Option<serde_json::Map<String, serde_json::Value>>,
}

/// An OCI content descriptor (image-spec descriptor.md); `mediaType`,
/// `digest` and `size` are required there.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: String,
    digest: Digest,
    /// Required: read only so a descriptor without a size is refused.
    #[serde(rename = "size")]
    _size: u64,
    #[serde(default)]
    urls: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// OCI image manifest or Docker schema 2 manifest: config + layers.
    Image,
    /// OCI image index or Docker manifest list: child manifests.
    Index,
}

/// What a valid manifest tells the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub media_type: &'static str,
    /// Config and layers that must be linked blobs of this repository.
    pub blobs: Vec<Digest>,
    /// Child manifests that must be manifests of this repository.
    pub children: Vec<Digest>,
    pub subject: Option<Digest>,
    pub artifact_type: Option<String>,
    pub annotations: Option<String>,
    /// An image manifest's config descriptor: media type and digest.
    pub config: Option<(String, Digest)>,
}

/// `text/plain; charset=utf-8` → `text/plain`.
fn essence(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}

/// Layers that live elsewhere (`urls`), which registries do not hold:
/// Docker's foreign layers and OCI's non-distributable ones.
fn is_foreign(d: &Descriptor) -> bool {
    !d.urls.is_empty()
        && (d.media_type.contains(".foreign.") || d.media_type.contains(".nondistributable."))
}

/// Validates a manifest body against its declared media type.
pub(crate) fn validate(content_type: Option<&str>, body: &[u8]) -> Result<Parsed> {
    let doc: Document = serde_json::from_slice(body)
        .map_err(|e| RegistryError::ManifestInvalid(format!("not a manifest: {e}")))?;

    let header = content_type.map(essence).filter(|c| !c.is_empty());
    // dist-spec end-7: when the manifest has a `mediaType`, the Content-Type
    // must be the same.
    let declared = match (header, doc.media_type.as_deref()) {
        (Some(h), Some(m)) if !h.eq_ignore_ascii_case(m) => {
            return Err(RegistryError::ManifestInvalid(format!(
                "Content-Type {h:?} does not match the manifest's mediaType {m:?}"
            )));
        }
        (_, Some(m)) => m,
        (Some(h), None) => h,
        (None, None) => {
            return Err(RegistryError::ManifestInvalid(
                "no media type: send a Content-Type header or set mediaType".into(),
            ));
        }
    };
    let (media_type, kind) = match declared.to_ascii_lowercase().as_str() {
        OCI_MANIFEST => (OCI_MANIFEST, Kind::Image),
        DOCKER_MANIFEST => (DOCKER_MANIFEST, Kind::Image),
        OCI_INDEX => (OCI_INDEX, Kind::Index),
        DOCKER_MANIFEST_LIST => (DOCKER_MANIFEST_LIST, Kind::Index),
        _ => return Err(RegistryError::ManifestUnsupported(declared.to_owned())),
    };
    if doc.schema_version != Some(2) {
        return Err(RegistryError::ManifestInvalid(
            "schemaVersion must be 2".into(),
        ));
    }

    let mut blobs = Vec::new();
    let mut children = Vec::new();
    let mut artifact_type = doc.artifact_type.clone();
    let mut config_descriptor = None;
    match kind {
        Kind::Image => {
            // A document that is both an image and an index is refused, so
            // that one digest cannot be read as two things
            // (CVE-2021-41190; distribution does the same).
            if doc.manifests.is_some() {
                return Err(RegistryError::ManifestInvalid(
                    "an image manifest must not have `manifests`".into(),
                ));
            }
            let config = doc
                .config
                .ok_or_else(|| RegistryError::ManifestInvalid("missing `config`".into()))?;
            let layers = doc
                .layers
                .ok_or_else(|| RegistryError::ManifestInvalid("missing `layers`".into()))?;
            // image-spec manifest.md: artifactType falls back to the
            // config's media type (dist-spec referrers use this value).
            if artifact_type.is_none() {
                artifact_type = Some(config.media_type.clone());
            }
            config_descriptor = Some((config.media_type.clone(), config.digest.clone()));
            blobs.push(config.digest);
            blobs.extend(
                layers
                    .into_iter()
                    .filter(|l| !is_foreign(l))
                    .map(|l| l.digest),
            );
        }
        Kind::Index => {
            if doc.config.is_some() || doc.layers.is_some() {
                return Err(RegistryError::ManifestInvalid(
                    "an index must not have `config` or `layers`".into(),
                ));
            }
            let manifests = doc
                .manifests
                .ok_or_else(|| RegistryError::ManifestInvalid("missing `manifests`".into()))?;
            children.extend(manifests.into_iter().map(|m| m.digest));
        }
    }
    let mut seen = HashSet::new();
    blobs.retain(|d| seen.insert(d.clone()));
    children.retain(|d| seen.insert(d.clone()));

    let annotations = match doc.annotations {
        Some(map) if !map.is_empty() => Some(serde_json::Value::Object(map).to_string()),
        Some(_) | None => None,
    };
    Ok(Parsed {
        media_type,
        blobs,
        children,
        subject: doc.subject.map(|s| s.digest),
        artifact_type,
        annotations,
        config: config_descriptor,
    })
}

/// The digest of `bytes` under `algorithm`.
pub(crate) fn digest_of(algorithm: DigestAlgorithm, bytes: &[u8]) -> Digest {
    match algorithm {
        DigestAlgorithm::Sha256 => Digest::from_bytes(algorithm, &sha2::Sha256::digest(bytes)),
        DigestAlgorithm::Sha512 => Digest::from_bytes(algorithm, &sha2::Sha512::digest(bytes)),
    }
}

impl Repository {
    /// `PUT /v2/<name>/manifests/<reference>` (end-7). By digest: the body
    /// must hash to it. By tag: the tag is set to the new manifest. Every
    /// blob and child manifest it references must already be in this
    /// repository (MANIFEST_BLOB_UNKNOWN otherwise); its `subject` need not
    /// exist (dist-spec v1.1). Refused when the repository, the tag or (by
    /// digest) the manifest is not writable (`attributes.rs`).
    pub async fn put_manifest(
        &self,
        permit: &Permit,
        reference: &Reference,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<PushedManifest> {
        self.require(permit, RepoAction::Push)?;
        self.check_push(reference).await?;
        if body.len() > MAX_MANIFEST_SIZE {
            return Err(RegistryError::ManifestTooLarge {
                limit: MAX_MANIFEST_SIZE,
            });
        }
        let (digest, tag) = match reference {
            Reference::Digest(expected) => {
                let actual = digest_of(expected.algorithm(), &body);
                if &actual != expected {
                    return Err(RegistryError::DigestMismatch {
                        expected: expected.clone(),
                        actual,
                    });
                }
                (actual, None)
            }
            Reference::Tag(t) => (digest_of(DigestAlgorithm::Sha256, &body), Some(t)),
        };
        let parsed = validate(content_type, &body)?;
        for blob in &parsed.blobs {
            if self
                .meta
                .find_linked_blob(&self.registry, &self.name, blob)
                .await?
                .is_none()
            {
                return Err(RegistryError::ManifestBlobUnknown {
                    digest: blob.clone(),
                });
            }
        }
        for child in &parsed.children {
            if self
                .meta
                .find_manifest(&self.registry, &self.name, child)
                .await?
                .is_none()
            {
                return Err(RegistryError::ManifestBlobUnknown {
                    digest: child.clone(),
                });
            }
        }

        let size = body.len() as u64;
        self.blobs.put_verified(&digest, body).await?;
        let record = ManifestRecord {
            registry_id: self.registry.clone(),
            repository: self.name.clone(),
            digest: digest.clone(),
            media_type: parsed.media_type.to_owned(),
            size,
            artifact_type: parsed.artifact_type,
            subject: parsed.subject.clone(),
            annotations: parsed.annotations,
            created_at: OffsetDateTime::now_utc(),
        };
        let references: Vec<Digest> = parsed.blobs.into_iter().chain(parsed.children).collect();
        self.meta.put_manifest(&record, &references, tag).await?;
        if let Some((media_type, config)) = parsed.config {
            self.record_config(&digest, media_type, &config).await?;
        }
        Ok(PushedManifest {
            digest,
            subject: parsed.subject,
        })
    }

    /// `HEAD /v2/<name>/manifests/<reference>`. Refused when a
    /// `readEnabled` attribute is false (`attributes.rs`).
    pub async fn stat_manifest(&self, reference: &Reference) -> Result<ManifestInfo> {
        let m = self.resolve_for_pull(reference).await?.record;
        Ok(ManifestInfo {
            digest: m.digest,
            media_type: m.media_type,
            size: m.size,
        })
    }

    /// Records what ACR reports about an image manifest's config: its media
    /// type always, `architecture`/`os` when it is an image config. A config
    /// that cannot be read or parsed leaves them unknown rather than failing
    /// a push that has already succeeded.
    async fn record_config(
        &self,
        manifest: &Digest,
        media_type: String,
        config: &Digest,
    ) -> Result<()> {
        let mut details = ManifestConfig {
            media_type: Some(media_type),
            ..ManifestConfig::default()
        };
        let is_image = details
            .media_type
            .as_deref()
            .is_some_and(|t| IMAGE_CONFIGS.contains(&t));
        if is_image {
            match self.read_config(config).await {
                Ok(Some(platform)) => {
                    details.architecture = platform.architecture;
                    details.os = platform.os;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(%manifest, %config, error = %e, "image config unreadable; architecture/os left unknown");
                }
            }
        }
        self.meta
            .set_manifest_config(&self.registry, &self.name, manifest, &details)
            .await?;
        Ok(())
    }

    /// The platform an image config names; `None` when it is too large or
    /// not an image config's JSON.
    async fn read_config(&self, config: &Digest) -> Result<Option<Platform>> {
        if self.stat_blob(config).await? > MAX_CONFIG_READ as u64 {
            return Ok(None);
        }
        let mut stream = self.blobs.get(config, None).await?;
        let mut buf = BytesMut::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk
                .map_err(|e| RegistryError::Storage(format!("reading config {config}: {e}")))?;
            if buf.len() + chunk.len() > MAX_CONFIG_READ {
                return Ok(None);
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(serde_json::from_slice(&buf).ok())
    }

    /// `GET /v2/<name>/manifests/<reference>`: the stored bytes, unchanged.
    pub async fn get_manifest(&self, reference: &Reference) -> Result<(ManifestInfo, Bytes)> {
        let info = self.stat_manifest(reference).await?;
        let mut stream = self.blobs.get(&info.digest, None).await.map_err(|e| {
            RegistryError::Storage(format!(
                "manifest {} has a record but no bytes: {e}",
                info.digest
            ))
        })?;
        let mut buf = BytesMut::with_capacity(info.size as usize);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                RegistryError::Storage(format!("reading manifest {}: {e}", info.digest))
            })?;
            if buf.len() + chunk.len() > MAX_MANIFEST_SIZE {
                return Err(RegistryError::Storage(format!(
                    "stored manifest {} is oversized",
                    info.digest
                )));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok((info, buf.freeze()))
    }

    /// `DELETE /v2/<name>/manifests/<reference>` (end-9). By digest: the
    /// manifest and every tag pointing at it. By tag: only the tag. Refused
    /// when a changeable attribute protects either (`attributes.rs`).
    pub async fn delete_manifest(&self, permit: &Permit, reference: &Reference) -> Result<()> {
        self.require(permit, RepoAction::Delete)?;
        self.check_delete_manifest(reference).await?;
        let deleted = match reference {
            Reference::Digest(d) => {
                self.meta
                    .delete_manifest(&self.registry, &self.name, d)
                    .await?
            }
            Reference::Tag(t) => self.meta.delete_tag(&self.registry, &self.name, t).await?,
        };
        if deleted {
            Ok(())
        } else {
            Err(RegistryError::ManifestUnknown {
                reference: reference.clone(),
            })
        }
    }
}
