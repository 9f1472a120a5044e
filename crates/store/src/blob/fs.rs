//! The local file-system adapter of [`BlobStore`], following the key layout
//! in `blob/mod.rs`.
//!
//! Committed blobs are read, stat'ed, deleted and (for manifests) written
//! through object_store's `LocalFileSystem`. Upload staging uses `tokio::fs`
//! directly, because object_store has no append: a chunk is streamed onto
//! the end of `uploads/<id>`, and commit renames the file into `blobs/…`.
//!
//! Appends to one upload are serialized by an in-process lock. Beside it
//! lives an incremental SHA-256 state and the offset it covers, so a commit
//! need not read the bytes again. The state is only an optimisation: after
//! a restart, on another replica's upload, or for sha512, commit re-hashes
//! the staged file, streaming. Memory stays flat whatever the blob size.

use std::collections::HashMap;
use std::io::{Read, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use acrylic_model::{Digest, DigestAlgorithm, UploadId};
use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutOptions};
use sha2::Digest as _;
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};

use super::{BlobError, BlobResult, BlobStore, ByteStream};

/// Read and write granularity: large enough to keep syscall and task
/// overhead small, small enough that memory stays flat per request.
const CHUNK: usize = 256 * 1024;

/// Blobs and upload staging under one root directory.
#[derive(Debug)]
pub struct FsBlobStore {
    root: PathBuf,
    objects: LocalFileSystem,
    uploads: Mutex<HashMap<UploadId, Arc<tokio::sync::Mutex<Staging>>>>,
}

/// What this process knows about one upload, guarded by the upload's lock.
#[derive(Debug, Default)]
struct Staging {
    /// SHA-256 of the first `.0` staged bytes, if this process saw all of
    /// them being written.
    sha256: Option<(u64, sha2::Sha256)>,
}

impl FsBlobStore {
    /// Opens (creating if needed) a store rooted at `root`, with `blobs/`
    /// and `uploads/` beneath it.
    pub fn new(root: impl Into<PathBuf>) -> Result<FsBlobStore, BlobError> {
        let root = root.into();
        for dir in ["blobs", "uploads"] {
            std::fs::create_dir_all(root.join(dir)).map_err(io_err)?;
        }
        // with_fsync: a put_verified blob is durable (file and directory
        // entry) before the call returns.
        let objects = LocalFileSystem::new_with_prefix(&root)
            .map_err(|e| BlobError::Backend(e.to_string()))?
            .with_fsync(true);
        Ok(Self {
            root,
            objects,
            uploads: Mutex::new(HashMap::new()),
        })
    }

    fn blob_key(digest: &Digest) -> ObjectPath {
        let hex = digest.hex();
        ObjectPath::from(format!(
            "blobs/{}/{}/{hex}",
            digest.algorithm().as_str(),
            &hex[..2]
        ))
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.root
            .join("blobs")
            .join(digest.algorithm().as_str())
            .join(&hex[..2])
            .join(hex)
    }

    fn upload_path(&self, id: &UploadId) -> PathBuf {
        self.root.join("uploads").join(id.to_string())
    }

    /// The lock and hash state of an upload, made on first use.
    fn staging(&self, id: &UploadId) -> BlobResult<Arc<tokio::sync::Mutex<Staging>>> {
        let mut map = self
            .uploads
            .lock()
            .map_err(|_| BlobError::Backend("upload table lock poisoned".into()))?;
        Ok(map.entry(*id).or_default().clone())
    }

    fn forget(&self, id: &UploadId) {
        if let Ok(mut map) = self.uploads.lock() {
            map.remove(id);
        }
    }
}

fn io_err(e: std::io::Error) -> BlobError {
    BlobError::Backend(e.to_string())
}

fn upload_io_err(id: &UploadId, e: std::io::Error) -> BlobError {
    if e.kind() == std::io::ErrorKind::NotFound {
        BlobError::UploadNotFound(*id)
    } else {
        io_err(e)
    }
}

fn object_err(digest: &Digest, e: object_store::Error) -> BlobError {
    match e {
        object_store::Error::NotFound { .. } => BlobError::NotFound(digest.clone()),
        other => BlobError::Backend(other.to_string()),
    }
}

fn hash_bytes(algorithm: DigestAlgorithm, bytes: &[u8]) -> Digest {
    match algorithm {
        DigestAlgorithm::Sha256 => Digest::from_bytes(algorithm, &sha2::Sha256::digest(bytes)),
        DigestAlgorithm::Sha512 => Digest::from_bytes(algorithm, &sha2::Sha512::digest(bytes)),
    }
}

/// Hashes a file, reading it in `CHUNK`s (blocking: run on a blocking thread).
fn hash_file(path: &Path, algorithm: DigestAlgorithm) -> std::io::Result<Digest> {
    fn run<H: sha2::Digest>(path: &Path) -> std::io::Result<Vec<u8>> {
        let mut file = std::fs::File::open(path)?;
        let mut hasher = H::new();
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(hasher.finalize().to_vec())
    }
    let hash = match algorithm {
        DigestAlgorithm::Sha256 => run::<sha2::Sha256>(path)?,
        DigestAlgorithm::Sha512 => run::<sha2::Sha512>(path)?,
    };
    Ok(Digest::from_bytes(algorithm, &hash))
}

/// fsyncs a directory so a rename or create inside it survives a crash.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Streams `body` onto the end of `file` (which is at `offset`), feeding
/// `hasher` as it goes. Returns the number of bytes written.
async fn write_body(
    file: &mut BufWriter<tokio::fs::File>,
    mut body: ByteStream,
    mut hasher: Option<&mut sha2::Sha256>,
) -> BlobResult<u64> {
    let mut written = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(BlobError::Body)?;
        file.write_all(&chunk).await.map_err(io_err)?;
        if let Some(h) = hasher.as_deref_mut() {
            h.update(&chunk);
        }
        written += chunk.len() as u64;
    }
    file.flush().await.map_err(io_err)?;
    Ok(written)
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn stat(&self, digest: &Digest) -> BlobResult<Option<u64>> {
        match self.objects.head(&Self::blob_key(digest)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(BlobError::Backend(e.to_string())),
        }
    }

    async fn get(&self, digest: &Digest, range: Option<Range<u64>>) -> BlobResult<ByteStream> {
        let key = Self::blob_key(digest);
        let options = match range {
            None => GetOptions::default(),
            Some(range) => {
                // End exclusive; an empty range or one past the end is refused
                // rather than clamped, so the caller's Content-Range is never
                // wrong (it clamps per RFC 9110 §14.1.2 before asking).
                let size = self
                    .objects
                    .head(&key)
                    .await
                    .map_err(|e| object_err(digest, e))?
                    .size;
                if range.start >= range.end || range.end > size {
                    return Err(BlobError::RangeNotSatisfiable { size });
                }
                GetOptions {
                    range: Some(GetRange::Bounded(range)),
                    ..GetOptions::default()
                }
            }
        };
        let result = self
            .objects
            .get_opts(&key, options)
            .await
            .map_err(|e| object_err(digest, e))?;
        match result.payload {
            // object_store's own file stream reads 8 KiB at a time; read the
            // returned range in larger chunks instead.
            object_store::GetResultPayload::File(file, _) => {
                let range = result.range;
                let mut file = tokio::fs::File::from_std(file);
                file.seek(SeekFrom::Start(range.start))
                    .await
                    .map_err(io_err)?;
                let limited = tokio::io::AsyncReadExt::take(file, range.end - range.start);
                Ok(Box::pin(tokio_util::io::ReaderStream::with_capacity(
                    limited, CHUNK,
                )))
            }
            object_store::GetResultPayload::Stream(stream) => Ok(Box::pin(
                stream.map_err(|e| std::io::Error::other(e.to_string())),
            )),
        }
    }

    async fn put_verified(&self, digest: &Digest, bytes: Bytes) -> BlobResult<()> {
        let actual = hash_bytes(digest.algorithm(), &bytes);
        if &actual != digest {
            return Err(BlobError::DigestMismatch {
                expected: digest.clone(),
                actual,
            });
        }
        // Create-only: the content is addressed by its digest, so an existing
        // blob already holds exactly these bytes.
        match self
            .objects
            .put_opts(
                &Self::blob_key(digest),
                bytes.into(),
                PutOptions::from(PutMode::Create),
            )
            .await
        {
            Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(BlobError::Backend(e.to_string())),
        }
    }

    async fn delete(&self, digest: &Digest) -> BlobResult<bool> {
        match self.objects.delete(&Self::blob_key(digest)).await {
            Ok(()) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(BlobError::Backend(e.to_string())),
        }
    }

    async fn upload_create(&self, id: &UploadId) -> BlobResult<()> {
        let staging = self.staging(id)?;
        let mut state = staging.lock().await;
        tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.upload_path(id))
            .await
            .map_err(io_err)?;
        state.sha256 = Some((0, sha2::Sha256::new()));
        Ok(())
    }

    async fn upload_size(&self, id: &UploadId) -> BlobResult<u64> {
        let meta = tokio::fs::metadata(self.upload_path(id))
            .await
            .map_err(|e| upload_io_err(id, e))?;
        Ok(meta.len())
    }

    async fn upload_append(&self, id: &UploadId, offset: u64, body: ByteStream) -> BlobResult<u64> {
        let staging = self.staging(id)?;
        let mut state = staging.lock().await;
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .open(self.upload_path(id))
            .await
            .map_err(|e| upload_io_err(id, e))?;
        let current = file.metadata().await.map_err(io_err)?.len();
        if offset != current {
            return Err(BlobError::OffsetMismatch {
                current,
                requested: offset,
            });
        }
        // The hash state is usable only if it covers exactly the bytes on
        // disk; an empty file can always start a fresh one.
        let mut hasher = match state.sha256.take() {
            Some((covered, h)) if covered == current => Some(h),
            _ if current == 0 => Some(sha2::Sha256::new()),
            _ => None,
        };
        let before = hasher.clone();
        file.seek(SeekFrom::Start(current)).await.map_err(io_err)?;
        let mut writer = BufWriter::with_capacity(CHUNK, file);
        match write_body(&mut writer, body, hasher.as_mut()).await {
            Ok(written) => {
                let size = current + written;
                state.sha256 = hasher.map(|h| (size, h));
                Ok(size)
            }
            Err(e) => {
                // A chunk is all or nothing: cut the file back to where it
                // was, so the client can retry from the offset it knows.
                let file = writer.into_inner();
                match file.set_len(current).await {
                    Ok(()) => state.sha256 = before.map(|h| (current, h)),
                    Err(cut) => {
                        tracing::warn!(upload = %id, error = %cut, "could not truncate a failed chunk");
                    }
                }
                Err(e)
            }
        }
    }

    async fn upload_commit(&self, id: &UploadId, expected: &Digest) -> BlobResult<u64> {
        let staging = self.staging(id)?;
        let mut state = staging.lock().await;
        let path = self.upload_path(id);
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| upload_io_err(id, e))?;
        file.sync_all().await.map_err(io_err)?;
        let size = file.metadata().await.map_err(io_err)?.len();
        drop(file);

        let incremental = match (expected.algorithm(), state.sha256.take()) {
            (DigestAlgorithm::Sha256, Some((covered, h))) if covered == size => {
                Some(Digest::from_bytes(DigestAlgorithm::Sha256, &h.finalize()))
            }
            _ => None,
        };
        let actual = match incremental {
            Some(d) => d,
            None => {
                let (path, algorithm) = (path.clone(), expected.algorithm());
                tokio::task::spawn_blocking(move || hash_file(&path, algorithm))
                    .await
                    .map_err(|e| BlobError::Backend(e.to_string()))?
                    .map_err(|e| upload_io_err(id, e))?
            }
        };
        if &actual != expected {
            // OCI: a digest mismatch fails the upload; nothing becomes visible.
            let _ = tokio::fs::remove_file(&path).await;
            drop(state);
            self.forget(id);
            return Err(BlobError::DigestMismatch {
                expected: expected.clone(),
                actual,
            });
        }

        let dest = self.blob_path(expected);
        let dir = dest
            .parent()
            .map(Path::to_path_buf)
            .ok_or_else(|| BlobError::Backend("blob path has no parent".into()))?;
        let publish = {
            let (path, dest, dir) = (path.clone(), dest.clone(), dir.clone());
            move || -> std::io::Result<()> {
                std::fs::create_dir_all(&dir)?;
                if dest.exists() {
                    // Same digest, same bytes: keep the existing blob.
                    std::fs::remove_file(&path)?;
                } else {
                    std::fs::rename(&path, &dest)?;
                }
                // The rename, and a directory made for it, survive a crash.
                sync_dir(&dir)?;
                if let Some(alg_dir) = dir.parent() {
                    sync_dir(alg_dir)?;
                }
                Ok(())
            }
        };
        tokio::task::spawn_blocking(publish)
            .await
            .map_err(|e| BlobError::Backend(e.to_string()))?
            .map_err(|e| upload_io_err(id, e))?;
        drop(state);
        self.forget(id);
        Ok(size)
    }

    async fn upload_abort(&self, id: &UploadId) -> BlobResult<()> {
        let staging = self.staging(id)?;
        let state = staging.lock().await;
        let removed = tokio::fs::remove_file(self.upload_path(id)).await;
        drop(state);
        self.forget(id);
        removed.map_err(|e| upload_io_err(id, e))
    }
}
