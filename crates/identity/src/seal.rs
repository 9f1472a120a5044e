//! Sealing secrets at rest with the master key (AES-256-GCM).
//!
//! Sealed format: `0x01 ‖ nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)`.
//! The leading version byte leaves room for a later key or cipher change.
//! Every seal draws a fresh random nonce: with 96-bit random nonces the
//! collision bound is comfortable for the few thousand secrets a registry
//! holds.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, Generate, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("master key file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("master key file {path} holds {len} bytes; expected {KEY_LEN}")]
    KeyLength { path: PathBuf, len: usize },
    #[error(
        "master key file {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`"
    )]
    KeyPermissions { path: PathBuf, mode: u32 },
    /// Wrong key, truncated or altered data: the two are indistinguishable
    /// by design.
    #[error("sealed data could not be opened (wrong master key or corrupted data)")]
    Corrupt,
    #[error("could not encrypt")]
    Encrypt,
}

/// Encrypts and decrypts secrets with the server's master key.
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<master key>)")
    }
}

impl Sealer {
    /// Uses an explicit 32-byte key (tests, or a key from a secret manager).
    pub fn from_key(key: [u8; KEY_LEN]) -> Sealer {
        let key: Key<Aes256Gcm> = key.into();
        Sealer {
            cipher: Aes256Gcm::new(&key),
        }
    }

    /// Reads the master key from `path`, or creates it (32 random bytes, file
    /// mode 0600, created exclusively so two starting processes cannot both
    /// write one). A key file other users can read is refused rather than
    /// silently used.
    pub fn load_or_create(path: &Path) -> Result<Sealer, SealError> {
        let io = |source| SealError::Io {
            path: path.to_path_buf(),
            source,
        };
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(mut file) => {
                let key: [u8; KEY_LEN] = Key::<Aes256Gcm>::generate().into();
                file.write_all(&key).map_err(io)?;
                file.sync_all().map_err(io)?;
                Ok(Sealer::from_key(key))
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let mut file = OpenOptions::new().read(true).open(path).map_err(io)?;
                let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(SealError::KeyPermissions {
                        path: path.to_path_buf(),
                        mode,
                    });
                }
                let mut bytes = Vec::with_capacity(KEY_LEN);
                file.read_to_end(&mut bytes).map_err(io)?;
                let key: [u8; KEY_LEN] =
                    bytes
                        .as_slice()
                        .try_into()
                        .map_err(|_| SealError::KeyLength {
                            path: path.to_path_buf(),
                            len: bytes.len(),
                        })?;
                Ok(Sealer::from_key(key))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Encrypts `plaintext` under a fresh random nonce.
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let nonce = Nonce::generate();
        let ciphertext = self
            .cipher
            .encrypt(&nonce, plaintext)
            .map_err(|_| SealError::Encrypt)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(nonce.as_slice());
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Decrypts what [`Sealer::seal`] produced; any alteration fails.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let Some((&VERSION, rest)) = sealed.split_first() else {
            return Err(SealError::Corrupt);
        };
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Corrupt);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| SealError::Corrupt)?;
        self.cipher
            .decrypt(&nonce, ciphertext)
            .map_err(|_| SealError::Corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_with_fresh_nonces() {
        let s = Sealer::from_key([7; 32]);
        let a = s.seal(b"hunter2").unwrap();
        let b = s.seal(b"hunter2").unwrap();
        assert_ne!(a, b, "each seal uses a fresh nonce");
        assert!(
            !a.windows(7).any(|w| w == b"hunter2"),
            "plaintext must not appear"
        );
        assert_eq!(s.open(&a).unwrap(), b"hunter2");
        assert_eq!(s.open(&b).unwrap(), b"hunter2");
        assert_eq!(s.open(&s.seal(b"").unwrap()).unwrap(), b"");
    }

    #[test]
    fn tampering_wrong_key_and_truncation_are_refused() {
        let s = Sealer::from_key([7; 32]);
        let sealed = s.seal(b"secret value").unwrap();
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x01;
            assert!(
                matches!(s.open(&t), Err(SealError::Corrupt)),
                "flipped byte {i}"
            );
        }
        assert!(matches!(
            s.open(&sealed[..sealed.len() - 1]),
            Err(SealError::Corrupt)
        ));
        assert!(matches!(s.open(&[]), Err(SealError::Corrupt)));
        assert!(matches!(s.open(&[1; 20]), Err(SealError::Corrupt)));
        let other = Sealer::from_key([8; 32]);
        assert!(matches!(other.open(&sealed), Err(SealError::Corrupt)));
    }

    #[test]
    fn load_or_create_persists_a_private_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let first = Sealer::load_or_create(&path).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), 32);
        let sealed = first.seal(b"kept across restarts").unwrap();
        let second = Sealer::load_or_create(&path).unwrap();
        assert_eq!(second.open(&sealed).unwrap(), b"kept across restarts");
    }

    #[test]
    fn load_or_create_refuses_bad_key_files() {
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short.key");
        std::fs::write(&short, [1u8; 16]).unwrap();
        std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            Sealer::load_or_create(&short),
            Err(SealError::KeyLength { len: 16, .. })
        ));
        let open = dir.path().join("open.key");
        std::fs::write(&open, [1u8; 32]).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            Sealer::load_or_create(&open),
            Err(SealError::KeyPermissions { mode: 0o644, .. })
        ));
        let missing_dir = dir.path().join("nope").join("master.key");
        assert!(matches!(
            Sealer::load_or_create(&missing_dir),
            Err(SealError::Io { .. })
        ));
    }
}
