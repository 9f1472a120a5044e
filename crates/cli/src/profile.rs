//! The CLI's on-disk state, like `~/.azure`: where the server is and who is
//! signed in.
//!
//! Two files in the config directory (`$ACRYLIC_CONFIG_DIR`, default
//! `$HOME/.acrylic`):
//! - `profile.json` — written by `acrylic serve` at bootstrap (and updated by
//!   `acrylic login --server/--tenant/--ca-cert`): `{"serverUrl", "tenant",
//!   "subscription", "resourceGroup", "caCert", "user"}`. Unknown keys are
//!   kept when the CLI rewrites it, so the server may add fields.
//! - `tokens.json` (mode 0600) — written by `acrylic login`, removed by
//!   `acrylic logout`: the directory access token, when it expires, and the
//!   directory refresh token that renews it (rotated on every use, so the
//!   file is rewritten each time) — or, for `acrylic login
//!   --service-principal` (#4), the application's secret or certificate
//!   file, which renews it through the client credentials grant (az keeps
//!   the same in its `service_principal_entries`) — or, for `acrylic login
//!   --identity` (#5), which identity agent to ask and which identity.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub const PROFILE_FILE: &str = "profile.json";
pub const TOKENS_FILE: &str = "tokens.json";

/// `$ACRYLIC_CONFIG_DIR`, else `$HOME/.acrylic`.
pub fn config_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("ACRYLIC_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".acrylic")),
        None => bail!("cannot find the acrylic config directory: set ACRYLIC_CONFIG_DIR or HOME"),
    }
}

/// Where the server is and the defaults commands use.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// `https://127.0.0.1:5000`: the directory and the control plane.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_url: Option<String>,
    /// Tenant id (GUID) or domain to sign in to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group: Option<String>,
    /// PEM file of the CA that signed the server's certificate; the CLI
    /// trusts only this CA when it is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
    /// The bootstrap owner's UPN (a default for `acrylic login`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Whatever else the server wrote; preserved on rewrite.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The signed-in session.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tokens {
    pub access_token: String,
    /// Unix seconds.
    pub expires_on: i64,
    /// The UPN that signed in.
    pub user: String,
    /// The tenant id (GUID) of the token.
    pub tenant_id: String,
    /// The server the token is for.
    pub server_url: String,
    /// The directory refresh token (`offline_access`); `None` once the
    /// directory refused it, so the next command asks for `acrylic login`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Set when a service principal signed in (`user` is then its appId).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_principal: Option<ServicePrincipalLogin>,
    /// Set when a managed identity signed in through the local identity
    /// agent (#5): what asks the agent for the next token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_identity: Option<ManagedIdentityLogin>,
}

/// Which of the agent's two protocols a managed-identity sign-in speaks
/// (acr-auth.md §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AgentProtocol {
    /// `GET <host>/metadata/identity/oauth2/token` with `Metadata: true`.
    Imds,
    /// `GET <IDENTITY_ENDPOINT>` with `X-IDENTITY-HEADER`.
    AppService,
}

/// How a managed identity signed in (#5): the identity agent it asks and
/// the identity it picks (none: the system-assigned one).
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedIdentityLogin {
    pub protocol: AgentProtocol,
    /// IMDS: the agent's base URL; App Service: the full `IDENTITY_ENDPOINT`.
    pub endpoint: String,
    /// The App Service protocol's `IDENTITY_HEADER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
}

impl std::fmt::Debug for ManagedIdentityLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedIdentityLogin")
            .field("protocol", &self.protocol)
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("object_id", &self.object_id)
            .field("resource_id", &self.resource_id)
            .finish_non_exhaustive()
    }
}

/// How a service principal signed in (#4): what renews its access token.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipalLogin {
    pub app_id: String,
    /// The client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// A PEM file with the certificate and its private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<PathBuf>,
}

impl std::fmt::Debug for ServicePrincipalLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServicePrincipalLogin")
            .field("app_id", &self.app_id)
            .field("certificate", &self.certificate)
            .finish_non_exhaustive()
    }
}

impl Tokens {
    pub fn is_expired(&self) -> bool {
        // A minute of slack so a request does not start with a token that
        // expires in flight.
        OffsetDateTime::now_utc().unix_timestamp() + 60 >= self.expires_on
    }
}

pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn open() -> Result<Self> {
        Ok(Self { dir: config_dir()? })
    }

    pub fn load_profile(&self) -> Result<Option<Profile>> {
        read_json(&self.dir.join(PROFILE_FILE))
    }

    pub fn save_profile(&self, p: &Profile) -> Result<()> {
        write_private(&self.dir, PROFILE_FILE, &serde_json::to_vec_pretty(p)?)
    }

    pub fn load_tokens(&self) -> Result<Option<Tokens>> {
        read_json(&self.dir.join(TOKENS_FILE))
    }

    pub fn save_tokens(&self, t: &Tokens) -> Result<()> {
        write_private(&self.dir, TOKENS_FILE, &serde_json::to_vec_pretty(t)?)
    }

    /// Removes the stored tokens; returns whether there were any.
    pub fn remove_tokens(&self) -> Result<bool> {
        let path = self.dir.join(TOKENS_FILE);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
        }
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("{} is not valid; fix or delete it", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes `dir/name` with mode 0600 (it may hold a token), via a temporary
/// file and a rename so a crash never leaves half a file.
fn write_private(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    let path = dir.join(name);
    fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
