//! `FsBlobStore` against a real temporary directory: uploads, commits,
//! verification, ranges, and what survives a crash or a restart.

use std::sync::Arc;

use acrylic_model::{Digest, DigestAlgorithm, UploadId};
use acrylic_store::{BlobError, BlobStore, ByteStream, FsBlobStore};
use bytes::Bytes;
use futures::TryStreamExt;
use sha2::Digest as _;

fn sha256(data: &[u8]) -> Digest {
    Digest::from_bytes(DigestAlgorithm::Sha256, &sha2::Sha256::digest(data))
}

fn sha512(data: &[u8]) -> Digest {
    Digest::from_bytes(DigestAlgorithm::Sha512, &sha2::Sha512::digest(data))
}

fn body(chunks: &[&[u8]]) -> ByteStream {
    let chunks: Vec<std::io::Result<Bytes>> = chunks
        .iter()
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures::stream::iter(chunks))
}

/// Deterministic, non-repeating-looking test content.
fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn read_all(
    store: &FsBlobStore,
    digest: &Digest,
    range: Option<std::ops::Range<u64>>,
) -> Vec<u8> {
    let stream = store.get(digest, range).await.expect("get");
    stream
        .try_fold(Vec::new(), |mut acc, chunk| async move {
            acc.extend_from_slice(&chunk);
            Ok(acc)
        })
        .await
        .expect("read stream")
}

fn new_store() -> (tempfile::TempDir, FsBlobStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = FsBlobStore::new(dir.path().join("data")).expect("blob store");
    (dir, store)
}

#[tokio::test]
async fn chunked_upload_round_trip() {
    let (dir, store) = new_store();
    let id = UploadId::new_random();
    let (part1, part2) = (content(300_000, 1), content(123_457, 2));
    let whole = [part1.as_slice(), part2.as_slice()].concat();
    let digest = sha256(&whole);

    store.upload_create(&id).await.expect("create");
    assert_eq!(store.upload_size(&id).await.expect("size"), 0);
    let size = store
        .upload_append(&id, 0, body(&[&part1[..1000], &part1[1000..]]))
        .await
        .expect("append 1");
    assert_eq!(size, part1.len() as u64);
    let size = store
        .upload_append(&id, size, body(&[&part2]))
        .await
        .expect("append 2");
    assert_eq!(size, whole.len() as u64);
    assert_eq!(store.upload_size(&id).await.expect("size"), size);
    assert_eq!(
        store.stat(&digest).await.expect("stat"),
        None,
        "visible before commit"
    );

    assert_eq!(
        store.upload_commit(&id, &digest).await.expect("commit"),
        size
    );
    assert_eq!(store.stat(&digest).await.expect("stat"), Some(size));
    assert_eq!(read_all(&store, &digest, None).await, whole);
    // The layout of blob/mod.rs, and nothing left in staging.
    let hex = digest.hex();
    assert!(
        dir.path()
            .join(format!("data/blobs/sha256/{}/{hex}", &hex[..2]))
            .is_file()
    );
    assert!(matches!(store.upload_size(&id).await, Err(BlobError::UploadNotFound(u)) if u == id));
    assert_eq!(
        std::fs::read_dir(dir.path().join("data/uploads"))
            .expect("uploads dir")
            .count(),
        0
    );

    // Committing the same content again keeps one blob.
    let again = UploadId::new_random();
    store.upload_create(&again).await.expect("create");
    store
        .upload_append(&again, 0, body(&[&whole]))
        .await
        .expect("append");
    assert_eq!(
        store
            .upload_commit(&again, &digest)
            .await
            .expect("commit again"),
        size
    );
    assert_eq!(read_all(&store, &digest, None).await, whole);
}

#[tokio::test]
async fn empty_upload_commits_the_empty_blob() {
    let (_dir, store) = new_store();
    let id = UploadId::new_random();
    store.upload_create(&id).await.expect("create");
    let empty = sha256(b"");
    assert_eq!(store.upload_commit(&id, &empty).await.expect("commit"), 0);
    assert_eq!(store.stat(&empty).await.expect("stat"), Some(0));
    assert!(read_all(&store, &empty, None).await.is_empty());
    assert!(matches!(
        store.get(&empty, Some(0..1)).await,
        Err(BlobError::RangeNotSatisfiable { size: 0 })
    ));
}

#[tokio::test]
async fn offset_mismatch_changes_nothing() {
    let (_dir, store) = new_store();
    let id = UploadId::new_random();
    store.upload_create(&id).await.expect("create");
    store
        .upload_append(&id, 0, body(&[b"hello "]))
        .await
        .expect("append");
    for wrong in [0, 5, 7, 100] {
        match store.upload_append(&id, wrong, body(&[b"XXXX"])).await {
            Err(BlobError::OffsetMismatch {
                current: 6,
                requested,
            }) => assert_eq!(requested, wrong),
            other => panic!("offset {wrong}: expected OffsetMismatch, got {other:?}"),
        }
    }
    assert_eq!(store.upload_size(&id).await.expect("size"), 6);
    store
        .upload_append(&id, 6, body(&[b"world"]))
        .await
        .expect("append at the end");
    let digest = sha256(b"hello world");
    assert_eq!(store.upload_commit(&id, &digest).await.expect("commit"), 11);
    assert_eq!(read_all(&store, &digest, None).await, b"hello world");
    assert!(matches!(
        store
            .upload_append(&UploadId::new_random(), 0, body(&[b"x"]))
            .await,
        Err(BlobError::UploadNotFound(_))
    ));
}

#[tokio::test]
async fn concurrent_chunks_at_one_offset_serialize() {
    let (_dir, store) = new_store();
    let store = Arc::new(store);
    let id = UploadId::new_random();
    store.upload_create(&id).await.expect("create");
    let tasks: Vec<_> = (0..4u8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let data = content(200_000, i);
                store
                    .upload_append(&id, 0, body(&[&data[..100_000], &data[100_000..]]))
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("join") {
            Ok(size) => {
                assert_eq!(size, 200_000);
                ok += 1;
            }
            Err(BlobError::OffsetMismatch {
                current: 200_000,
                requested: 0,
            }) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(ok, 1, "exactly one chunk wins offset 0");
    assert_eq!(store.upload_size(&id).await.expect("size"), 200_000);
}

#[tokio::test]
async fn failed_body_rolls_the_chunk_back() {
    let (_dir, store) = new_store();
    let id = UploadId::new_random();
    store.upload_create(&id).await.expect("create");
    store
        .upload_append(&id, 0, body(&[b"abc"]))
        .await
        .expect("append");
    let broken: ByteStream = Box::pin(futures::stream::iter(vec![
        Ok(Bytes::from_static(b"defdefdef")),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ]));
    assert!(matches!(
        store.upload_append(&id, 3, broken).await,
        Err(BlobError::Body(_))
    ));
    assert_eq!(store.upload_size(&id).await.expect("size"), 3);
    // The retry from the same offset hashes correctly (incremental state restored).
    store
        .upload_append(&id, 3, body(&[b"def"]))
        .await
        .expect("retry");
    let digest = sha256(b"abcdef");
    assert_eq!(store.upload_commit(&id, &digest).await.expect("commit"), 6);
    assert_eq!(read_all(&store, &digest, None).await, b"abcdef");
}

#[tokio::test]
async fn digest_mismatch_leaves_nothing_visible() {
    let (dir, store) = new_store();
    let id = UploadId::new_random();
    let data = content(70_000, 9);
    store.upload_create(&id).await.expect("create");
    store
        .upload_append(&id, 0, body(&[&data]))
        .await
        .expect("append");
    let claimed = sha256(b"something else");
    match store.upload_commit(&id, &claimed).await {
        Err(BlobError::DigestMismatch { expected, actual }) => {
            assert_eq!(expected, claimed);
            assert_eq!(actual, sha256(&data));
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
    assert_eq!(store.stat(&claimed).await.expect("stat"), None);
    assert_eq!(store.stat(&sha256(&data)).await.expect("stat"), None);
    assert!(matches!(
        store.get(&claimed, None).await,
        Err(BlobError::NotFound(_))
    ));
    assert!(matches!(
        store.upload_size(&id).await,
        Err(BlobError::UploadNotFound(_))
    ));
    assert_eq!(
        std::fs::read_dir(dir.path().join("data/uploads"))
            .expect("uploads dir")
            .count(),
        0
    );
}

#[tokio::test]
async fn range_reads() {
    let (_dir, store) = new_store();
    let data = content(1_000_000, 3);
    let digest = sha256(&data);
    store
        .put_verified(&digest, Bytes::from(data.clone()))
        .await
        .expect("put");
    assert_eq!(read_all(&store, &digest, Some(0..1)).await, &data[..1]);
    assert_eq!(read_all(&store, &digest, Some(10..20)).await, &data[10..20]);
    assert_eq!(
        read_all(&store, &digest, Some(999_999..1_000_000)).await,
        &data[999_999..]
    );
    assert_eq!(
        read_all(&store, &digest, Some(300_000..1_000_000)).await,
        &data[300_000..]
    );
    assert_eq!(read_all(&store, &digest, Some(0..1_000_000)).await, data);
    for bad in [
        1_000_000..1_000_001,
        5..5,
        0..1_000_001,
        2_000_000..2_000_010,
    ] {
        assert!(
            matches!(
                store.get(&digest, Some(bad.clone())).await,
                Err(BlobError::RangeNotSatisfiable { size: 1_000_000 })
            ),
            "range {bad:?} accepted"
        );
    }
    let missing = sha256(b"missing");
    assert!(matches!(
        store.get(&missing, Some(0..1)).await,
        Err(BlobError::NotFound(_))
    ));
    assert!(matches!(
        store.get(&missing, None).await,
        Err(BlobError::NotFound(_))
    ));
}

#[tokio::test]
async fn put_verified_and_delete() {
    let (_dir, store) = new_store();
    let manifest = Bytes::from_static(br#"{"schemaVersion":2}"#);
    let digest = sha256(&manifest);
    let wrong = sha256(b"not the manifest");
    assert!(matches!(
        store.put_verified(&wrong, manifest.clone()).await,
        Err(BlobError::DigestMismatch { .. })
    ));
    assert_eq!(store.stat(&wrong).await.expect("stat"), None);
    store
        .put_verified(&digest, manifest.clone())
        .await
        .expect("put");
    store
        .put_verified(&digest, manifest.clone())
        .await
        .expect("put again is fine");
    assert_eq!(
        store.stat(&digest).await.expect("stat"),
        Some(manifest.len() as u64)
    );
    assert_eq!(read_all(&store, &digest, None).await, manifest);
    let d512 = sha512(&manifest);
    store
        .put_verified(&d512, manifest.clone())
        .await
        .expect("put sha512");
    assert_eq!(read_all(&store, &d512, None).await, manifest);

    assert!(store.delete(&digest).await.expect("delete"));
    assert!(!store.delete(&digest).await.expect("delete again"));
    assert_eq!(store.stat(&digest).await.expect("stat"), None);
    assert!(matches!(
        store.get(&digest, None).await,
        Err(BlobError::NotFound(_))
    ));
}

#[tokio::test]
async fn abandoned_staging_is_never_a_blob() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("data");
    let data = content(50_000, 5);
    let digest = sha256(&data);
    let id = UploadId::new_random();
    {
        let store = FsBlobStore::new(&root).expect("store");
        store.upload_create(&id).await.expect("create");
        store
            .upload_append(&id, 0, body(&[&data]))
            .await
            .expect("append");
        // "Crash": the process goes away without committing.
    }
    // A stray staging file written behind the store's back, named like a blob.
    std::fs::write(root.join("uploads").join(digest.hex()), &data).expect("stray file");

    let store = FsBlobStore::new(&root).expect("store after restart");
    assert_eq!(store.stat(&digest).await.expect("stat"), None);
    assert!(matches!(
        store.get(&digest, None).await,
        Err(BlobError::NotFound(_))
    ));
    // The session itself survives and can still be cancelled.
    assert_eq!(
        store.upload_size(&id).await.expect("size"),
        data.len() as u64
    );
    store.upload_abort(&id).await.expect("abort");
    assert!(matches!(
        store.upload_size(&id).await,
        Err(BlobError::UploadNotFound(_))
    ));
    assert!(matches!(
        store.upload_abort(&id).await,
        Err(BlobError::UploadNotFound(_))
    ));
    assert_eq!(store.stat(&digest).await.expect("stat"), None);
}

#[tokio::test]
async fn commit_after_restart_rehashes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("data");
    let (part1, part2) = (content(400_000, 7), content(333_333, 8));
    let whole = [part1.as_slice(), part2.as_slice()].concat();
    let (id, other) = (UploadId::new_random(), UploadId::new_random());
    {
        let first = FsBlobStore::new(&root).expect("store");
        for u in [&id, &other] {
            first.upload_create(u).await.expect("create");
            first
                .upload_append(u, 0, body(&[&part1]))
                .await
                .expect("append");
        }
    }
    // A fresh instance has no hash state: it must continue and then re-hash.
    let second = FsBlobStore::new(&root).expect("store after restart");
    assert_eq!(
        second.upload_size(&id).await.expect("size"),
        part1.len() as u64
    );
    let size = second
        .upload_append(&id, part1.len() as u64, body(&[&part2]))
        .await
        .expect("append after restart");
    let digest = sha256(&whole);
    assert_eq!(
        second.upload_commit(&id, &digest).await.expect("commit"),
        size
    );
    assert_eq!(read_all(&second, &digest, None).await, whole);

    // A wrong digest is still caught on the re-hash path; sha512 always re-hashes.
    assert!(matches!(
        second.upload_commit(&other, &sha256(&whole)).await,
        Err(BlobError::DigestMismatch { .. })
    ));
    let third = UploadId::new_random();
    second.upload_create(&third).await.expect("create");
    second
        .upload_append(&third, 0, body(&[&whole]))
        .await
        .expect("append");
    let d512 = sha512(&whole);
    assert_eq!(
        second
            .upload_commit(&third, &d512)
            .await
            .expect("commit sha512"),
        size
    );
    assert_eq!(read_all(&second, &d512, None).await, whole);
}

#[tokio::test]
async fn large_blob_streams_in_bounded_chunks() {
    let (_dir, store) = new_store();
    let id = UploadId::new_random();
    store.upload_create(&id).await.expect("create");
    // 48 MiB in 64 KiB chunks, produced lazily: the body is never in memory.
    const CHUNK: usize = 64 * 1024;
    const CHUNKS: usize = 768;
    let make = |i: usize| Bytes::from(content(CHUNK, i as u8));
    let mut hasher = sha2::Sha256::new();
    for i in 0..CHUNKS {
        hasher.update(make(i));
    }
    let digest = Digest::from_bytes(DigestAlgorithm::Sha256, &hasher.finalize());
    let stream: ByteStream = Box::pin(futures::stream::iter((0..CHUNKS).map(move |i| Ok(make(i)))));
    let size = store.upload_append(&id, 0, stream).await.expect("append");
    assert_eq!(size, (CHUNK * CHUNKS) as u64);
    assert_eq!(
        store.upload_commit(&id, &digest).await.expect("commit"),
        size
    );

    let mut stream = store.get(&digest, None).await.expect("get");
    let (mut total, mut largest) = (0usize, 0usize);
    let mut check = sha2::Sha256::new();
    while let Some(chunk) = stream.try_next().await.expect("read") {
        total += chunk.len();
        largest = largest.max(chunk.len());
        check.update(&chunk);
    }
    assert_eq!(total, CHUNK * CHUNKS);
    assert!(largest <= 256 * 1024, "a read chunk of {largest} bytes");
    assert_eq!(
        Digest::from_bytes(DigestAlgorithm::Sha256, &check.finalize()),
        digest
    );
}
