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

#[derive(Debug, Deserialize)]
struct ArmErrorBody {
    error: ArmErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ArmErrorDetail {
    code: String,
    message: String,
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
        let url = format!("{}/{}/oauth2/v2.0/token", self.base, tenant);
        let form = [
            (
                "client_id",
                acrylic_server::directory::ACRYLIC_CLI_CLIENT_ID,
            ),
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
            // As az asks for ARM (clients.md "The directory").
            (
                "scope",
                "https://management.core.windows.net//.default offline_access openid profile",
            ),
            ("client_info", "1"),
        ];
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
                .context("the directory's token response is not valid JSON");
        }
        let msg = match serde_json::from_slice::<DirectoryError>(&bytes) {
            Ok(e) => e.error_description.unwrap_or(e.error),
            Err(_) => format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes)),
        };
        Err(CliError::SignIn(msg).into())
    }

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
