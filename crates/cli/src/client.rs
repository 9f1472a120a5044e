//! The HTTP client: the directory's token endpoint and the ARM control
//! plane, over rustls trusting only the profile's CA (when one is set).
//!
//! Failures become [`CliError`]s that name the problem and the command that
//! fixes it; the server's own ARM / Microsoft-identity messages are passed
//! through, since they are written for users.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;

/// The CLI's client id at the directory.
const ACRYLIC_CLI: &str = acrylic_server::directory::ACRYLIC_CLI_CLIENT_ID;

/// The control-plane api-versions the CLI sends (spec §6.7 range).
pub const REGISTRY_API_VERSION: &str = "2023-07-01";
pub const SUBSCRIPTIONS_API_VERSION: &str = "2022-12-01";

/// The error a user sees. Each names what went wrong and what to run.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(
        "no acrylic server is configured. Run `acrylic serve` on this machine (it writes a profile), \
         or `acrylic login --server <URL> --ca-cert <FILE>`"
    )]
    NoServer,
    #[error("not logged in. Run `acrylic login` to sign in")]
    NotLoggedIn,
    #[error("your sign-in has expired. Run `acrylic login` to sign in again")]
    SessionExpired,
    #[error(
        "you are logged in to {logged_in}, but the profile points at {profile}. Run `acrylic login` to sign in there"
    )]
    OtherServer { logged_in: String, profile: String },
    #[error("{message} Run `acrylic login` to sign in again")]
    Unauthenticated { message: String },
    #[error("sign-in failed: {0}")]
    SignIn(String),
    #[error("({code}) {message}")]
    Arm {
        status: u16,
        code: String,
        message: String,
    },
    #[error("cannot reach the acrylic server at {url}: {reason}. Is `acrylic serve` running?")]
    Unreachable { url: String, reason: String },
    #[error("{0}")]
    Usage(String),
}

/// How an application proves itself at the token endpoint (#4). `Debug`
/// hides the secret.
pub enum ClientCredential {
    Secret(String),
    /// A signed client assertion (a certificate's).
    Assertion(String),
}

impl std::fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ClientCredential::Secret(_) => "Secret(<redacted>)",
            ClientCredential::Assertion(_) => "Assertion(<redacted>)",
        })
    }
}

/// A connection to one acrylic server.
pub struct Client {
    http: reqwest::Client,
    base: String,
}

/// The directory's token response (spec §5.1), the fields the CLI keeps.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(deserialize_with = "number_or_string")]
    pub expires_in: i64,
    #[serde(default)]
    pub client_info: Option<String>,
    /// Opaque; rotates on every use, so always keep the newest.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// The OIDC id token (a JWT naming the user: `upn`).
    #[serde(default)]
    pub id_token: Option<String>,
}

/// Entra may send numbers as strings (v1 style); MSAL accepts both, so do we.
fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        I(i64),
        S(String),
    }
    match N::deserialize(d)? {
        N::I(i) => Ok(i),
        N::S(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

#[derive(Debug, Deserialize)]
struct DirectoryError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// The scopes of the CLI's sign-in: ARM, as az asks for it (clients.md
/// "The directory"), plus a refresh token.
pub const SIGN_IN_SCOPE: &str =
    "https://management.core.windows.net//.default offline_access openid profile";

/// `POST /{tenant}/oauth2/v2.0/devicecode`'s answer (RFC 8628 §3.2).
#[derive(Debug, Deserialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub message: String,
    #[serde(deserialize_with = "number_or_string")]
    pub expires_in: i64,
    #[serde(deserialize_with = "number_or_string")]
    pub interval: i64,
}

/// One poll of a device sign-in.
#[derive(Debug)]
pub enum DevicePoll {
    Signed(Box<TokenResponse>),
    /// `authorization_pending`.
    Pending,
    /// `slow_down`: wait longer between polls.
    SlowDown,
}

#[derive(Debug, Deserialize)]
struct ArmErrorBody {
    error: ArmErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ArmErrorDetail {
    code: String,
    message: String,
}

/// The directory's `error_description`, or the status and body.
fn directory_message(status: StatusCode, bytes: &[u8]) -> String {
    match serde_json::from_slice::<DirectoryError>(bytes) {
        Ok(e) => e.error_description.unwrap_or(e.error),
        Err(_) => format!("HTTP {status}: {}", String::from_utf8_lossy(bytes)),
    }
}

impl Client {
    pub fn new(server_url: &str, ca_cert: Option<&Path>) -> Result<Self> {
        let mut b = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("acrylic-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = ca_cert {
            let pem = std::fs::read(path).with_context(|| {
                format!(
                    "reading the server's CA certificate {} (named by the profile or --ca-cert)",
                    path.display()
                )
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("{} is not a PEM certificate", path.display()))?;
            b = b.tls_certs_only(certs);
        }
        Ok(Self {
            http: b.build().context("building the HTTP client")?,
            base: server_url.trim_end_matches('/').to_owned(),
        })
    }

    /// `POST /{tenant}/oauth2/v2.0/token`, `grant_type=password` (ROPC, spec §5.1).
    pub async fn sign_in(
        &self,
        tenant: &str,
        username: &str,
        password: &str,
    ) -> Result<TokenResponse> {
        let form = [
            ("client_id", ACRYLIC_CLI),
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
            ("scope", SIGN_IN_SCOPE),
            ("client_info", "1"),
        ];
        match self.token_request(tenant, &form).await? {
            Ok(t) => Ok(t),
            Err(e) => Err(CliError::SignIn(e.error_description.unwrap_or(e.error)).into()),
        }
    }

    // -- directory: refresh, device code, sign-out (directory, #3) --

    /// `grant_type=refresh_token` for `scope`: new tokens and a new refresh
    /// token (the old one is dead from now on). A refresh token the
    /// directory refuses (`invalid_grant`: expired, revoked, signed out)
    /// is [`CliError::SessionExpired`], whose message says to run `acrylic
    /// login`.
    pub async fn refresh(
        &self,
        tenant: &str,
        refresh_token: &str,
        scope: &str,
    ) -> Result<TokenResponse> {
        let form = [
            ("client_id", ACRYLIC_CLI),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("scope", scope),
            ("client_info", "1"),
        ];
        match self.token_request(tenant, &form).await? {
            Ok(t) => Ok(t),
            Err(e) if e.error == "invalid_grant" => Err(CliError::SessionExpired.into()),
            Err(e) => Err(CliError::SignIn(e.error_description.unwrap_or(e.error)).into()),
        }
    }

    /// `POST /{tenant}/oauth2/v2.0/devicecode` for the CLI's sign-in.
    pub async fn device_code(&self, tenant: &str) -> Result<DeviceAuthorization> {
        let url = format!("{}/{}/oauth2/v2.0/devicecode", self.base, tenant);
        let form = [("client_id", ACRYLIC_CLI), ("scope", SIGN_IN_SCOPE)];
        let resp = self
            .http
            .post(&url)
            .form(&form)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(e))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .context("the directory's device code answer is not valid JSON");
        }
        Err(CliError::SignIn(directory_message(status, &bytes)).into())
    }

    /// One poll of the token endpoint with the device code.
    pub async fn poll_device(&self, tenant: &str, device_code: &str) -> Result<DevicePoll> {
        let form = [
            ("client_id", ACRYLIC_CLI),
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device_code),
            ("client_info", "1"),
        ];
        match self.token_request(tenant, &form).await? {
            Ok(t) => Ok(DevicePoll::Signed(Box::new(t))),
            Err(e) if e.error == "authorization_pending" => Ok(DevicePoll::Pending),
            Err(e) if e.error == "slow_down" => Ok(DevicePoll::SlowDown),
            Err(e) => Err(CliError::SignIn(e.error_description.unwrap_or(e.error)).into()),
        }
    }

    /// `POST /{tenant}/oauth2/v2.0/logout`: the server revokes the refresh
    /// token's whole sign-in.
    pub async fn sign_out(&self, tenant: &str, refresh_token: &str) -> Result<()> {
        let url = format!("{}/{}/oauth2/v2.0/logout", self.base, tenant);
        let form = [("client_id", ACRYLIC_CLI), ("refresh_token", refresh_token)];
        let resp = self
            .http
            .post(&url)
            .form(&form)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(e))?;
        Err(CliError::SignIn(directory_message(status, &bytes)).into())
    }

    /// A token-endpoint call: the tokens, or the directory's error.
    async fn token_request(
        &self,
        tenant: &str,
        form: &[(&str, &str)],
    ) -> Result<Result<TokenResponse, DirectoryError>> {
        let url = format!("{}/{}/oauth2/v2.0/token", self.base, tenant);
        let resp = self
            .http
            .post(&url)
            .form(form)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(e))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map(Ok)
                .context("the directory's token response is not valid JSON");
        }
        Ok(Err(serde_json::from_slice::<DirectoryError>(&bytes)
            .unwrap_or_else(|_| DirectoryError {
                error: "server_error".into(),
                error_description: Some(format!(
                    "HTTP {status}: {}",
                    String::from_utf8_lossy(&bytes)
                )),
            })))
    }

    // -- directory: client credentials (service principals, #4) --

    /// `grant_type=client_credentials` for `scope` (`<resource>/.default`)
    /// with a client secret or a signed client assertion: the tokens, and
    /// when the credential used ends (the server's
    /// `acrylic-credential-expires-on` header), for the expiry warning.
    pub async fn client_credentials(
        &self,
        tenant: &str,
        client_id: &str,
        credential: &ClientCredential,
        scope: &str,
    ) -> Result<(TokenResponse, Option<String>)> {
        let mut form = vec![
            ("client_id", client_id),
            ("grant_type", "client_credentials"),
            ("scope", scope),
        ];
        match credential {
            ClientCredential::Secret(s) => form.push(("client_secret", s.as_str())),
            ClientCredential::Assertion(a) => {
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ));
                form.push(("client_assertion", a.as_str()));
            }
        }
        let url = format!("{}/{}/oauth2/v2.0/token", self.base, tenant);
        let resp = self
            .http
            .post(&url)
            .form(&form)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = resp.status();
        let ends = resp
            .headers()
            .get(acrylic_server::directory::CREDENTIAL_EXPIRES_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(e))?;
        if status.is_success() {
            let t = serde_json::from_slice(&bytes)
                .context("the directory's token response is not valid JSON")?;
            return Ok((t, ends));
        }
        Err(CliError::SignIn(directory_message(status, &bytes)).into())
    }

    /// The server's public cloud metadata (`GET /metadata/endpoints`, Azure
    /// Resource Manager's shape), if it answers.
    pub async fn cloud_metadata(&self) -> Option<serde_json::Value> {
        let url = format!("{}/metadata/endpoints?api-version=2022-09-01", self.base);
        let r = self.http.get(url).send().await.ok()?;
        if !r.status().is_success() {
            return None;
        }
        r.json().await.ok()
    }

    /// The server's base URL (`https://host:port`).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    // -- end of directory --

    /// One ARM call with a bearer token. `path` starts with `/subscriptions`.
    pub async fn arm(
        &self,
        token: &str,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Option<Value>> {
        let url = format!("{}{}", self.base, path);
        let mut req = self
            .http
            .request(method, &url)
            .bearer_auth(token)
            .query(query);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| self.unreachable(e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(e))?;
        if status.is_success() {
            if bytes.is_empty() {
                return Ok(None);
            }
            return serde_json::from_slice(&bytes)
                .map(Some)
                .with_context(|| format!("the server's answer to {path} is not valid JSON"));
        }
        let (code, message) = match serde_json::from_slice::<ArmErrorBody>(&bytes) {
            Ok(b) => (b.error.code, b.error.message),
            Err(_) => (
                status
                    .canonical_reason()
                    .unwrap_or("Error")
                    .replace(' ', ""),
                format!(
                    "HTTP {status} from {path}: {}",
                    String::from_utf8_lossy(&bytes)
                ),
            ),
        };
        if status == StatusCode::UNAUTHORIZED {
            return Err(CliError::Unauthenticated { message }.into());
        }
        Err(CliError::Arm {
            status: status.as_u16(),
            code,
            message,
        }
        .into())
    }

    fn unreachable(&self, e: reqwest::Error) -> anyhow::Error {
        // reqwest's Display hides the cause (e.g. the certificate error);
        // walk the chain so the user sees it.
        let mut reason = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            reason = format!("{reason}: {s}");
            src = s.source();
        }
        CliError::Unreachable {
            url: self.base.clone(),
            reason,
        }
        .into()
    }
}
