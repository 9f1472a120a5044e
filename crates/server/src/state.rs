//! The shared state every surface receives: stores, keys, settings.
//! Built once by the composition root (`crate::serve::start`), cheap to clone.

use std::sync::Arc;

use acrylic_model::{RegistryId, RegistryName};
use acrylic_store::{BlobStore, MetaStore, Registry, StoreError};

/// Settings the surfaces need, parsed once at start-up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// DNS suffix of registry login servers: `<registry>.<domain>`.
    pub domain: String,
    /// The host clients reach the bare listener on (`localhost` for a
    /// loopback or wildcard listener, else its IP).
    pub public_host: String,
    /// The port clients reach the listener on (part of login servers), or
    /// `None` for 443.
    pub public_port: Option<u16>,
    /// `https` unless serving plain HTTP.
    pub scheme: &'static str,
    /// The registry that also answers on the bare listener address
    /// (`localhost:5000`, `127.0.0.1:5000`).
    pub bootstrap_registry: Option<RegistryId>,
}

impl Settings {
    /// `host[:port]` of a registry's login server.
    pub fn login_server(&self, name: &RegistryName) -> String {
        match self.public_port {
            Some(p) => format!("{name}.{}:{p}", self.domain),
            None => format!("{name}.{}", self.domain),
        }
    }

    /// `host[:port]` of the bare listener: the bootstrap registry's login
    /// server.
    pub fn bare_login_server(&self) -> String {
        let host = if self.public_host.contains(':') {
            format!("[{}]", self.public_host)
        } else {
            self.public_host.clone()
        };
        match self.public_port {
            Some(p) => format!("{host}:{p}"),
            None => host,
        }
    }

    /// `scheme://host[:port]` of the bare listener.
    pub fn server_url(&self) -> String {
        format!("{}://{}", self.scheme, self.bare_login_server())
    }
}

#[derive(Clone)]
pub struct AppState {
    pub meta: Arc<dyn MetaStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub settings: Arc<Settings>,
    /// Signing keys for registry and directory tokens.
    pub keys: Arc<acrylic_tokens::KeyRing>,
    /// Seals secrets at rest (admin passwords, signing keys) with the master key.
    pub sealer: Arc<acrylic_identity::Sealer>,
    /// Short-lived cache of verified Basic credentials, so a slow password
    /// hash is not paid on every token request.
    pub credentials: Arc<acrylic_identity::CredentialCache>,
    /// Where credential validity takes its "now" from (#4): the system
    /// clock; tests may freeze it (`crate::clock`).
    pub clock: crate::clock::Clock,
    /// External OIDC issuers' signing keys, cached (federated credentials, #4).
    pub federation: Arc<crate::directory::federation::IssuerKeys>,
}

impl AppState {
    /// Which registry a request is for, by its `Host` header:
    /// `<name>.<domain>[:port]`, or the bootstrap registry for any other host
    /// (the bare listener address: `localhost`, `127.0.0.1`, …).
    pub async fn registry_for_host(&self, host: &str) -> Result<Option<Registry>, StoreError> {
        let hostname = strip_port(host).to_ascii_lowercase();
        let suffix = format!(".{}", self.settings.domain.to_ascii_lowercase());
        if let Some(label) = hostname.strip_suffix(&suffix) {
            return match RegistryName::parse(label) {
                Ok(name) => self.meta.find_registry_by_name(&name).await,
                Err(_) => Ok(None),
            };
        }
        match &self.settings.bootstrap_registry {
            Some(id) => self.meta.find_registry(id).await,
            None => Ok(None),
        }
    }
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        // [::1]:5000
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}
