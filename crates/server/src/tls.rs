//! TLS for the listener: the generated local CA (the default) or the
//! operator's certificate files, turned into a rustls server configuration
//! (aws-lc-rs provider, ALPN `h2` + `http/1.1`).
//!
//! Files under `<data-dir>/tls/` (keys are written mode 0600, atomically):
//! - `ca.pem`, `ca-key.pem` — the local CA, generated once and kept (clients
//!   trust it, so it never changes by itself);
//! - `server.pem`, `server-key.pem` — the leaf the listener serves, signed by
//!   the CA for `localhost`, `127.0.0.1`, `::1`, the listen address, the
//!   domain and `*.<domain>`;
//! - `server.json` — the names, expiry and CA key id the leaf was made for.
//!   The leaf (never the CA) is re-issued when any of them no longer match
//!   or it expires within [`RENEW_BEFORE`].
//!
//! The CA's subject is derived from its key (`acrylic local CA <key id>`), so
//! a leaf can be signed with nothing but `ca-key.pem`, and two installations
//! never share a CA name.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum_server::tls_rustls::RustlsConfig;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use time::{Duration, OffsetDateTime};

/// Lifetime of the local CA.
pub const CA_LIFETIME: Duration = Duration::days(3650);
/// Lifetime of a generated server certificate (under the 398 days browsers
/// accept).
pub const LEAF_LIFETIME: Duration = Duration::days(365);
/// A leaf this close to expiry is re-issued at start.
pub const RENEW_BEFORE: Duration = Duration::days(30);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("generating a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{path}: no PEM certificate found")]
    NoCertificate { path: PathBuf },
    #[error("{path}: no usable PEM private key: {reason}")]
    BadKey { path: PathBuf, reason: String },
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Installs aws-lc-rs as the process's rustls provider (once; later calls,
/// and a provider installed by someone else, are fine).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The generated CA and server certificate, ready to serve.
#[derive(Debug, Clone)]
pub struct LocalCa {
    pub dir: PathBuf,
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// Whether this call created the CA (first start).
    pub created_ca: bool,
    /// Whether this call (re-)issued the server certificate.
    pub issued_leaf: bool,
}

/// What the leaf was issued for (`server.json`).
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeafRecord {
    names: Vec<String>,
    not_after: i64,
    ca_key_id: String,
}

/// The names the generated server certificate covers.
pub fn server_names(domain: &str, listen: SocketAddr) -> Vec<String> {
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    let ip = listen.ip();
    if !ip.is_unspecified() && !ip.is_loopback() {
        names.push(ip.to_string());
    }
    names.push(domain.to_owned());
    names.push(format!("*.{domain}"));
    names
}

/// Makes sure `<dir>` holds a CA and a server certificate for `names`
/// valid at `now`; creates or re-issues what is missing or stale.
pub fn ensure_local_ca(
    dir: &Path,
    names: &[String],
    now: OffsetDateTime,
) -> Result<LocalCa, TlsError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let ca_cert = dir.join("ca.pem");
    let ca_key_path = dir.join("ca-key.pem");
    let server_cert = dir.join("server.pem");
    let server_key = dir.join("server-key.pem");
    let record_path = dir.join("server.json");

    let (ca_key, created_ca) = if ca_cert.is_file() && ca_key_path.is_file() {
        let pem = std::fs::read_to_string(&ca_key_path).map_err(io_err(&ca_key_path))?;
        let key = KeyPair::from_pem(&pem).map_err(|e| TlsError::BadKey {
            path: ca_key_path.clone(),
            reason: e.to_string(),
        })?;
        (key, false)
    } else {
        let key = KeyPair::generate()?;
        let cert = ca_params(&key, now).self_signed(&key)?;
        write_atomic(&ca_key_path, key.serialize_pem().as_bytes(), true)?;
        write_atomic(&ca_cert, cert.pem().as_bytes(), false)?;
        (key, true)
    };
    let ca_key_id = key_id(&ca_key);

    let wanted_names: Vec<String> = names.to_vec();
    let current: Option<LeafRecord> = std::fs::read(&record_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let fresh = current.is_some_and(|r| {
        r.names == wanted_names
            && r.ca_key_id == ca_key_id
            && r.not_after > (now + RENEW_BEFORE).unix_timestamp()
            && server_cert.is_file()
            && server_key.is_file()
    });
    let issued_leaf = !fresh || created_ca;
    if issued_leaf {
        let issuer = Issuer::new(ca_params(&ca_key, now), &ca_key);
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(wanted_names.clone())?;
        params.distinguished_name.remove(DnType::CommonName);
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().map(String::as_str).unwrap_or("localhost"),
        );
        params.not_before = now - Duration::hours(1);
        params.not_after = now + LEAF_LIFETIME;
        params.serial_number = Some(serial());
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &issuer)?;
        write_atomic(&server_key, key.serialize_pem().as_bytes(), true)?;
        write_atomic(&server_cert, cert.pem().as_bytes(), false)?;
        let record = LeafRecord {
            names: wanted_names,
            not_after: params.not_after.unix_timestamp(),
            ca_key_id,
        };
        let json = serde_json::to_vec_pretty(&record).unwrap_or_default();
        write_atomic(&record_path, &json, false)?;
    }
    Ok(LocalCa {
        dir: dir.to_owned(),
        ca_cert,
        server_cert,
        server_key,
        created_ca,
        issued_leaf,
    })
}

/// The CA's parameters. Deterministic in the key (apart from validity, which
/// signing a leaf does not use), so the issuer name of every leaf matches the
/// subject of `ca.pem`.
fn ca_params(key: &KeyPair, now: OffsetDateTime) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name.remove(DnType::CommonName);
    p.distinguished_name
        .push(DnType::OrganizationName, "acrylic");
    p.distinguished_name.push(
        DnType::CommonName,
        format!("acrylic local CA {}", &key_id(key)[..16]),
    );
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = now - Duration::hours(1);
    p.not_after = now + CA_LIFETIME;
    p.serial_number = Some(serial());
    p
}

fn key_id(key: &KeyPair) -> String {
    hex::encode(sha2::Sha256::digest(key.public_key_raw()))
}

/// A positive, non-zero 127-bit serial (RFC 5280 §4.1.2.2).
fn serial() -> SerialNumber {
    let mut b: [u8; 16] = rand::random();
    b[0] = (b[0] & 0x7f) | 0x01;
    SerialNumber::from_slice(&b)
}

/// Writes atomically (temp file + rename); `secret` files get mode 0600
/// from creation on, so the key is never readable by others.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], secret: bool) -> Result<(), TlsError> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    opts.mode(if secret { 0o600 } else { 0o644 });
    let mut f = opts.open(&tmp).map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// A rustls server configuration for a PEM chain and key, with the
/// aws-lc-rs provider and ALPN `h2`, `http/1.1`.
pub fn server_config(cert: &Path, key: &Path) -> Result<RustlsConfig, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| TlsError::Io {
            path: cert.to_owned(),
            source: std::io::Error::other(e.to_string()),
        })?
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::NoCertificate {
            path: cert.to_owned(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert.to_owned(),
        });
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::BadKey {
        path: key.to_owned(),
        reason: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(RustlsConfig::from_config(Arc::new(config)))
}

/// How to make clients trust the generated CA, for the start-up banner.
/// `host_port` is what clients type (`localhost:5000`).
pub fn trust_instructions(ca: &Path, host_port: &str) -> String {
    let ca = ca.display();
    format!(
        "TLS: serving a certificate signed by the local CA {ca}\n\
         Trust it:\n\
         \x20 docker:          sudo mkdir -p /etc/docker/certs.d/{host_port} && sudo cp {ca} /etc/docker/certs.d/{host_port}/ca.crt\n\
         \x20 podman/skopeo:   sudo mkdir -p /etc/containers/certs.d/{host_port} && sudo cp {ca} /etc/containers/certs.d/{host_port}/ca.crt\n\
         \x20                  (or per command: --cert-dir DIR, with {ca} copied to DIR/ca.crt)\n\
         \x20 Python (requests, azure-*): export REQUESTS_CA_BUNDLE={ca}\n\
         \x20 curl:            curl --cacert {ca} https://{host_port}/healthz"
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        server_names("acrylic.localhost", "127.0.0.1:5000".parse().unwrap())
    }

    #[test]
    fn names_cover_loopback_domain_and_wildcard() {
        let n = server_names("reg.test", "10.1.2.3:443".parse().unwrap());
        for want in [
            "localhost",
            "127.0.0.1",
            "::1",
            "10.1.2.3",
            "reg.test",
            "*.reg.test",
        ] {
            assert!(n.iter().any(|x| x == want), "{want} missing from {n:?}");
        }
        let n = server_names("reg.test", "0.0.0.0:443".parse().unwrap());
        assert!(!n.iter().any(|x| x == "0.0.0.0"));
    }

    #[test]
    fn ca_is_kept_and_leaf_reissued_only_when_stale() {
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        let first = ensure_local_ca(dir.path(), &names(), now).unwrap();
        assert!(first.created_ca && first.issued_leaf);
        let ca_pem = std::fs::read(&first.ca_cert).unwrap();
        let leaf_pem = std::fs::read(&first.server_cert).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("ca-key.pem"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            let mode = std::fs::metadata(&first.server_key)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        // Same names, same day: nothing changes.
        let again = ensure_local_ca(dir.path(), &names(), now).unwrap();
        assert!(!again.created_ca && !again.issued_leaf);
        assert_eq!(std::fs::read(&again.server_cert).unwrap(), leaf_pem);

        // New names: new leaf, same CA.
        let other = server_names("other.test", "127.0.0.1:5000".parse().unwrap());
        let renamed = ensure_local_ca(dir.path(), &other, now).unwrap();
        assert!(!renamed.created_ca && renamed.issued_leaf);
        assert_eq!(std::fs::read(&renamed.ca_cert).unwrap(), ca_pem);
        assert_ne!(std::fs::read(&renamed.server_cert).unwrap(), leaf_pem);

        // Near expiry: re-issued, CA kept.
        let later = now + LEAF_LIFETIME - Duration::days(1);
        let renewed = ensure_local_ca(dir.path(), &other, later).unwrap();
        assert!(!renewed.created_ca && renewed.issued_leaf);
        assert_eq!(std::fs::read(&renewed.ca_cert).unwrap(), ca_pem);
    }

    #[test]
    fn generated_material_loads_into_rustls() {
        install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let ca = ensure_local_ca(dir.path(), &names(), OffsetDateTime::now_utc()).unwrap();
        server_config(&ca.server_cert, &ca.server_key).unwrap();
        assert!(matches!(
            server_config(&ca.ca_cert, &dir.path().join("missing.pem")),
            Err(TlsError::BadKey { .. })
        ));
    }
}
