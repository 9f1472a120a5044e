//! A tiny OCI image builder for tests: writes an OCI image layout
//! (image-spec `image-layout.md`: `oci-layout`, `index.json`, `blobs/sha256/…`)
//! holding one single-layer image made from files the test chooses, so tests
//! that drive real clients need no download (STYLE §7: fixtures are generated).
//!
//! The layer is a gzip member whose deflate stream uses *stored* blocks
//! (RFC 1951 §3.2.4), wrapping a hand-written ustar archive. It is a valid
//! `tar+gzip` layer for every client, needs no compression crate, and keeps
//! clients from recompressing it on push (containers/image gzips uncompressed
//! layers when it pushes to a registry, which would change the digests the
//! tests compare).

use std::fs;
use std::io;
use std::path::Path;

use sha2::{Digest as _, Sha256};

/// `application/vnd.oci.image.manifest.v1+json`.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// `application/vnd.oci.image.config.v1+json`.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// `application/vnd.oci.image.layer.v1.tar+gzip`.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// What [`write_oci_layout`] wrote: digests are `sha256:<hex>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// Digest of the manifest bytes: what a registry must hand back unchanged.
    pub manifest_digest: String,
    /// The manifest bytes themselves.
    pub manifest: Vec<u8>,
    pub config_digest: String,
    pub layer_digest: String,
    /// The compressed layer bytes (the blob a registry stores).
    pub layer: Vec<u8>,
}

/// Writes (or adds to) an OCI image layout at `dir` with one image tagged
/// `tag`, whose single layer holds `files` (path inside the image, contents).
/// `skopeo copy oci:<dir>:<tag> …` and `podman pull oci:<dir>:<tag>` read it.
pub fn write_oci_layout(dir: &Path, tag: &str, files: &[(&str, &[u8])]) -> io::Result<ImageInfo> {
    let blobs = dir.join("blobs").join("sha256");
    fs::create_dir_all(&blobs)?;

    let layer_tar = tar(files);
    let diff_id = sha256(&layer_tar);
    let layer = gzip_stored(&layer_tar);
    let layer_digest = write_blob(&blobs, &layer)?;

    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": { "Cmd": ["/bin/sh"] },
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
        "history": [{ "created_by": "acrylic-testkit" }],
    }))?;
    let config_digest = write_blob(&blobs, &config)?;

    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": { "mediaType": CONFIG_MEDIA_TYPE, "digest": config_digest, "size": config.len() },
        "layers": [{ "mediaType": LAYER_MEDIA_TYPE, "digest": layer_digest, "size": layer.len() }],
    }))?;
    let manifest_digest = write_blob(&blobs, &manifest)?;

    // index.json: keep other tags already in the layout, replace this one.
    let index_path = dir.join("index.json");
    let mut entries: Vec<serde_json::Value> = match fs::read(&index_path) {
        Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes)?
            .get("manifests")
            .and_then(|m| m.as_array().cloned())
            .unwrap_or_default(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    entries.retain(|m| m["annotations"]["org.opencontainers.image.ref.name"] != tag);
    entries.push(serde_json::json!({
        "mediaType": MANIFEST_MEDIA_TYPE,
        "digest": manifest_digest,
        "size": manifest.len(),
        "annotations": { "org.opencontainers.image.ref.name": tag },
    }));
    let index = serde_json::json!({ "schemaVersion": 2, "manifests": entries });
    fs::write(&index_path, serde_json::to_vec(&index)?)?;
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;

    Ok(ImageInfo {
        manifest_digest,
        manifest,
        config_digest,
        layer_digest,
        layer,
    })
}

/// The manifest digest `index.json` of the layout at `dir` records for `tag`.
pub fn layout_manifest_digest(dir: &Path, tag: &str) -> io::Result<Option<String>> {
    let index: serde_json::Value = serde_json::from_slice(&fs::read(dir.join("index.json"))?)?;
    Ok(index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .and_then(|m| m["digest"].as_str())
        .map(str::to_owned))
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

fn write_blob(blobs: &Path, bytes: &[u8]) -> io::Result<String> {
    let digest = sha256(bytes);
    fs::write(blobs.join(&digest["sha256:".len()..]), bytes)?;
    Ok(digest)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A ustar archive (POSIX.1-1988) of regular files, mode 0644, owned by
/// root, mtime 0 (so the same files always give the same digest).
fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        let mut header = [0u8; 512];
        let name = name.trim_start_matches('/').as_bytes();
        header[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
        put_octal(&mut header[100..108], 0o644);
        put_octal(&mut header[108..116], 0);
        put_octal(&mut header[116..124], 0);
        put_octal(&mut header[124..136], data.len() as u64);
        put_octal(&mut header[136..148], 0);
        header[156] = b'0';
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        // The checksum is computed with its own field as eight spaces.
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
        header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(512), 0);
    }
    out.resize(out.len() + 1024, 0); // two zero blocks end the archive
    out
}

/// Writes `value` as zero-padded octal, NUL-terminated, filling `field`.
fn put_octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&text.as_bytes()[text.len() - digits..]);
    field[digits] = 0;
}

/// A gzip member (RFC 1952) whose deflate data is stored blocks only.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    // ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255 (unknown)
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let mut chunks = data.chunks(0xffff).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = u8::from(chunks.peek().is_none());
        let len = chunk.len() as u16;
        out.push(last); // BFINAL, BTYPE=00 (stored)
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// CRC-32 (IEEE 802.3, reflected, as gzip uses it).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_check_value() {
        // The standard check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn layout_is_consistent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big = vec![7u8; 200_000]; // spans several stored blocks
        let info = write_oci_layout(
            dir.path(),
            "v1",
            &[("hello.txt", b"hi\n"), ("big.bin", &big)],
        )
        .expect("layout");
        let blob = |d: &str| fs::read(dir.path().join("blobs/sha256").join(&d[7..])).expect("blob");
        assert_eq!(sha256(&blob(&info.manifest_digest)), info.manifest_digest);
        assert_eq!(blob(&info.layer_digest), info.layer);
        assert_eq!(
            layout_manifest_digest(dir.path(), "v1").expect("index"),
            Some(info.manifest_digest.clone())
        );
        // A second tag keeps the first.
        let other = write_oci_layout(dir.path(), "v2", &[("x", b"y")]).expect("layout");
        assert_eq!(
            layout_manifest_digest(dir.path(), "v1").expect("index"),
            Some(info.manifest_digest)
        );
        assert_eq!(
            layout_manifest_digest(dir.path(), "v2").expect("index"),
            Some(other.manifest_digest)
        );
    }

    #[test]
    fn gnu_tar_and_gzip_read_the_layer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big: Vec<u8> = (0..150_000u32).map(|i| (i % 251) as u8).collect();
        let info = write_oci_layout(
            dir.path(),
            "v1",
            &[("etc/hello.txt", b"hello\n"), ("big.bin", &big)],
        )
        .expect("layout");
        let layer = dir.path().join("layer.tar.gz");
        fs::write(&layer, &info.layer).expect("write");
        let out = std::process::Command::new("tar")
            .arg("-xzf")
            .arg(&layer)
            .arg("-C")
            .arg(dir.path())
            .output();
        let out = out.expect("run tar");
        assert!(
            out.status.success(),
            "tar: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            fs::read(dir.path().join("etc/hello.txt")).expect("hello"),
            b"hello\n"
        );
        assert_eq!(fs::read(dir.path().join("big.bin")).expect("big"), big);
    }
}
