//! Blob uploads (dist-spec "Pushing blobs"): sessions, chunks, commit,
//! monolithic pushes, cross-repository mounts and cancellation.
//!
//! A session is a MetaStore row (so every replica sees it, and it is bound
//! to one registry and repository) plus a BlobStore staging area under the
//! same id (the bytes). The staging area's size is the truth for offsets:
//! it is what actually reached storage, even after a client disconnect. A
//! blob becomes visible only through `upload_commit`, which verifies the
//! digest, and only then is it linked into the repository.

use acrylic_authz::{Permit, RepoAction};
use acrylic_model::{Digest, RepositoryName, UploadId};
use acrylic_store::{BlobError, ByteStream, UploadRecord};
use time::OffsetDateTime;

use crate::{RegistryError, Repository, Result, require_on};

/// Where an upload session stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadStatus {
    pub id: UploadId,
    /// Bytes received so far; the next chunk must start here.
    pub size: u64,
}

/// The outcome of `POST …/blobs/uploads/?mount=&from=` (dist-spec end-11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// The blob was linked from the source repository: 201.
    Mounted { digest: Digest, size: u64 },
    /// The blob could not be mounted; a new upload session was opened
    /// instead, as the spec requires: 202.
    Started(UploadStatus),
}

impl Repository {
    /// `POST /v2/<name>/blobs/uploads/`: opens an empty session (end-4a).
    pub async fn start_upload(&self, permit: &Permit) -> Result<UploadStatus> {
        self.require(permit, RepoAction::Push)?;
        let id = UploadId::new_random();
        self.blobs.upload_create(&id).await?;
        let now = OffsetDateTime::now_utc();
        let record = UploadRecord {
            id,
            registry_id: self.registry.clone(),
            repository: self.name.clone(),
            size: 0,
            created_at: now,
            updated_at: now,
        };
        if let Err(e) = self.meta.create_upload(&record).await {
            self.abort_quietly(&id).await;
            return Err(e.into());
        }
        Ok(UploadStatus { id, size: 0 })
    }

    /// `GET /v2/<name>/blobs/uploads/<id>` (end-13): bytes received so far.
    pub async fn upload_status(&self, id: &UploadId) -> Result<UploadStatus> {
        self.find_upload(id).await?;
        let size = self.blobs.upload_size(id).await?;
        Ok(UploadStatus { id: *id, size })
    }

    /// `PATCH /v2/<name>/blobs/uploads/<id>` (end-5): appends a chunk,
    /// streaming. `start` is the first byte of `Content-Range`, when sent; it
    /// must equal the bytes received so far, else `RangeInvalid` (416) with
    /// the current size so the client can resume. Without `Content-Range`
    /// the chunk is appended at the end (dist-spec "streamed" upload).
    pub async fn append_chunk(
        &self,
        permit: &Permit,
        id: &UploadId,
        start: Option<u64>,
        body: ByteStream,
    ) -> Result<UploadStatus> {
        self.require(permit, RepoAction::Push)?;
        self.find_upload(id).await?;
        let size = self.append(id, start, body).await?;
        Ok(UploadStatus { id: *id, size })
    }

    /// `PUT /v2/<name>/blobs/uploads/<id>?digest=` (end-6): appends the
    /// final chunk if any, verifies the digest, makes the blob visible and
    /// links it into this repository. On a digest mismatch the session is
    /// gone and nothing becomes visible.
    pub async fn complete_upload(
        &self,
        permit: &Permit,
        id: &UploadId,
        digest: &Digest,
        final_chunk: Option<(Option<u64>, ByteStream)>,
    ) -> Result<(Digest, u64)> {
        self.require(permit, RepoAction::Push)?;
        self.find_upload(id).await?;
        if let Some((start, body)) = final_chunk {
            self.append(id, start, body).await?;
        }
        self.commit(id, digest).await
    }

    /// `POST /v2/<name>/blobs/uploads/?digest=` (end-4b): the whole blob in
    /// one request.
    pub async fn push_blob(
        &self,
        permit: &Permit,
        digest: &Digest,
        body: ByteStream,
    ) -> Result<(Digest, u64)> {
        let session = self.start_upload(permit).await?;
        if let Err(e) = self.append(&session.id, Some(0), body).await {
            self.abort_quietly(&session.id).await;
            return Err(e);
        }
        self.commit(&session.id, digest).await
    }

    /// `POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<repo>`: links
    /// the blob from `from` when it is linked there. `from_pull` proves the
    /// caller may pull `from` (the surface asks the gate for it and, if
    /// refused, calls [`Repository::start_upload`] instead). Otherwise a new
    /// session is opened, as dist-spec end-11 requires.
    pub async fn mount_blob(
        &self,
        permit: &Permit,
        digest: &Digest,
        from: &RepositoryName,
        from_pull: &Permit,
    ) -> Result<Mount> {
        self.require(permit, RepoAction::Push)?;
        require_on(from_pull, &self.registry, from, RepoAction::Pull)?;
        match self
            .meta
            .find_linked_blob(&self.registry, from, digest)
            .await?
        {
            Some(size) => {
                self.meta
                    .link_blob(&self.registry, &self.name, digest, size)
                    .await?;
                Ok(Mount::Mounted {
                    digest: digest.clone(),
                    size,
                })
            }
            None => Ok(Mount::Started(self.start_upload(permit).await?)),
        }
    }

    /// `DELETE /v2/<name>/blobs/uploads/<id>`: drops the session and its bytes.
    pub async fn cancel_upload(&self, permit: &Permit, id: &UploadId) -> Result<()> {
        self.require(permit, RepoAction::Push)?;
        self.find_upload(id).await?;
        self.blobs.upload_abort(id).await?;
        self.meta.delete_upload(id).await?;
        Ok(())
    }

    /// The session, if it belongs to this registry and repository: an id
    /// used under another one is unknown (isolation, not just tidiness).
    async fn find_upload(&self, id: &UploadId) -> Result<UploadRecord> {
        match self.meta.find_upload(id).await? {
            Some(u) if u.registry_id == self.registry && u.repository == self.name => Ok(u),
            Some(_) | None => Err(RegistryError::UploadUnknown),
        }
    }

    async fn append(&self, id: &UploadId, start: Option<u64>, body: ByteStream) -> Result<u64> {
        let offset = match start {
            Some(s) => s,
            None => self.blobs.upload_size(id).await?,
        };
        let result = self.blobs.upload_append(id, offset, body).await;
        let size = match result {
            Ok(size) => size,
            // The session survives a failed chunk (a client that went away,
            // an offset mismatch): the client asks for the status and
            // resumes from the size the staging area reports.
            Err(e) => {
                if let Ok(size) = self.blobs.upload_size(id).await {
                    self.record_size(id, size).await;
                }
                return Err(e.into());
            }
        };
        self.record_size(id, size).await;
        Ok(size)
    }

    /// Keeps the session row's size and touch time current (the janitor
    /// reaps sessions by `updated_at`). Best effort: the staging area's
    /// size is what offsets are checked against.
    async fn record_size(&self, id: &UploadId, size: u64) {
        if let Err(e) = self
            .meta
            .set_upload_size(id, size, OffsetDateTime::now_utc())
            .await
        {
            tracing::warn!(upload = %id, error = %e, "could not record upload size");
        }
    }

    async fn commit(&self, id: &UploadId, digest: &Digest) -> Result<(Digest, u64)> {
        match self.blobs.upload_commit(id, digest).await {
            Ok(size) => {
                self.meta
                    .link_blob(&self.registry, &self.name, digest, size)
                    .await?;
                self.forget_session(id).await;
                Ok((digest.clone(), size))
            }
            Err(e @ BlobError::DigestMismatch { .. }) => {
                // The store has removed the staging area: the session is
                // over, nothing became visible.
                self.abort_quietly(id).await;
                Err(e.into())
            }
            // Anything else may be transient: keep the session resumable.
            Err(e) => Err(e.into()),
        }
    }

    async fn forget_session(&self, id: &UploadId) {
        if let Err(e) = self.meta.delete_upload(id).await {
            tracing::warn!(upload = %id, error = %e, "could not delete finished upload session");
        }
    }

    /// Cleans up after a failure; the janitor retries what this misses.
    async fn abort_quietly(&self, id: &UploadId) {
        if let Err(e) = self.blobs.upload_abort(id).await {
            tracing::debug!(upload = %id, error = %e, "abort of staging area failed");
        }
        self.forget_session(id).await;
    }
}
