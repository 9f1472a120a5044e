//! `acrylic ad sp …` — az's service-principal commands (#4 §1):
//! `create-for-rbac`, `create` (provision an application in the signed-in
//! tenant: the consent step of a multi-tenant app), `list
//! [--expiring-within DAYS]`, `show`, `delete`, and `credential
//! reset|list|delete`, over the directory's Graph-shaped API and, for the
//! role assignment `create-for-rbac` makes, the control plane.
//!
//! Credentials live on the application: `credential reset` adds a new
//! client secret (one year unless `--years`/`--end-date` says otherwise)
//! or certificate, then — without `--append` — removes the others of the
//! same kind, so there is never a moment without one. A secret is printed
//! once and kept nowhere; `--create-cert` writes the certificate and its
//! private key to a new 0600 PEM file and uploads only the certificate.
//!
//! The CLI warns on stderr about any credential it lists or uses that ends
//! within 30 days ([`warn_if_expiring`]). Also here, for `acrylic login
//! --service-principal` and the commands that renew its sign-in: reading a
//! certificate file and signing a client assertion with it (PS256, header
//! `x5t#S256`, claims `aud`/`iss`/`sub`/`jti`/`nbf`/`exp`, acr-auth.md
//! §5.1), and [`service_principal_token`].

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Session;
use super::ad::{clean, quote, values};
use crate::client::{CliError, Client, ClientCredential, TokenResponse};
use crate::output::{Column, Output, col};
use crate::profile::ServicePrincipalLogin;

/// Warn about credentials that end sooner than this.
const WARN_DAYS: i64 = 30;
/// A year of credential validity, as the server counts it.
const YEAR_DAYS: i64 = 365;

#[derive(Debug, clap::Args)]
pub struct ValidityArgs {
    /// Years the new credential is valid (default 1 = 365 days).
    #[arg(long, conflicts_with = "end_date")]
    years: Option<u32>,
    /// When the new credential ends: `2027-12-31` or an RFC 3339 time.
    #[arg(long)]
    end_date: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct CertArgs {
    /// Create a self-signed certificate (RSA 2048) and write it with its
    /// private key to a new 0600 PEM file; upload only the certificate.
    #[arg(long, conflicts_with = "cert")]
    create_cert: bool,
    /// Upload this certificate (`@file.pem`, or a PEM/base64 DER string)
    /// instead of creating a secret.
    #[arg(long)]
    cert: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum SpCommand {
    /// Create an application with a service principal and a credential,
    /// and assign it a role (prints appId, displayName, password, tenant).
    CreateForRbac {
        /// Display name (default `acrylic-<timestamp>`); an existing
        /// application of that name is reused and its secrets replaced.
        #[arg(short, long)]
        name: Option<String>,
        /// Role to assign, e.g. AcrPush.
        #[arg(long, requires = "scopes")]
        role: Option<String>,
        /// Scopes of the role assignment (e.g. a registry's id).
        #[arg(long, num_args = 1.., requires = "role")]
        scopes: Vec<String>,
        #[command(flatten)]
        validity: ValidityArgs,
        #[command(flatten)]
        cert: CertArgs,
    },
    /// Provision an application's service principal in the signed-in
    /// tenant (for a multi-tenant application of another tenant: the
    /// consent step).
    Create {
        /// The application's appId.
        #[arg(long)]
        id: String,
        /// The tenant to provision in: must be the signed-in one.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// List the tenant's service principals.
    List {
        /// Only those whose display name starts with this.
        #[arg(long)]
        display_name: Option<String>,
        /// Only those with a credential ending within this many days.
        #[arg(long, value_name = "DAYS")]
        expiring_within: Option<u32>,
    },
    /// Show a service principal (by appId or object id).
    Show {
        #[arg(long)]
        id: String,
    },
    /// Delete a service principal with its role assignments.
    Delete {
        #[arg(long)]
        id: String,
    },
    /// Manage the credentials of a service principal's application.
    Credential {
        #[command(subcommand)]
        command: CredentialCommand,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum CredentialCommand {
    /// Create a new secret (or certificate); without --append the others
    /// of that kind are removed.
    Reset {
        /// The appId (or object id).
        #[arg(long)]
        id: String,
        /// Keep the existing credentials.
        #[arg(long)]
        append: bool,
        /// The new credential's display name.
        #[arg(long)]
        display_name: Option<String>,
        #[command(flatten)]
        validity: ValidityArgs,
        #[command(flatten)]
        cert: CertArgs,
    },
    /// List the secrets (or with --cert the certificates).
    List {
        #[arg(long)]
        id: String,
        #[arg(long)]
        cert: bool,
    },
    /// Delete one secret (or with --cert certificate) by its key id.
    Delete {
        #[arg(long)]
        id: String,
        #[arg(long)]
        key_id: String,
        #[arg(long)]
        cert: bool,
    },
}

pub async fn run(s: &Session, cmd: SpCommand) -> Result<Option<Output>> {
    match cmd {
        SpCommand::CreateForRbac {
            name,
            role,
            scopes,
            validity,
            cert,
        } => create_for_rbac(s, name, role, scopes, validity, cert).await,
        SpCommand::Create { id, tenant } => {
            if let Some(t) = tenant
                && !t.eq_ignore_ascii_case(&s.tenant_id)
            {
                return Err(CliError::Usage(format!(
                    "you are signed in to tenant {}. Sign in to tenant {t} as its administrator \
                     (`acrylic login --tenant {t}`) to provision the application there",
                    s.tenant_id
                ))
                .into());
            }
            let v = s
                .graph(
                    Method::POST,
                    "/v1.0/servicePrincipals",
                    &[],
                    Some(&json!({"appId": id})),
                )
                .await?;
            Ok(Some(Output::new(clean(v), sp_columns())))
        }
        SpCommand::List {
            display_name,
            expiring_within,
        } => list(s, display_name, expiring_within).await,
        SpCommand::Show { id } => {
            let v = s.graph(Method::GET, &sp_path(&id), &[], None).await?;
            let v = clean(v);
            warn_credentials(&v);
            Ok(Some(Output::new(v, sp_columns())))
        }
        SpCommand::Delete { id } => {
            s.graph(Method::DELETE, &sp_path(&id), &[], None).await?;
            Ok(None)
        }
        SpCommand::Credential { command } => credential(s, command).await,
    }
}

fn sp_path(id: &str) -> String {
    format!("/v1.0/servicePrincipals/{}", id.trim())
}

fn app_path(id: &str) -> String {
    format!("/v1.0/applications/{}", id.trim())
}

async fn list(
    s: &Session,
    display_name: Option<String>,
    expiring_within: Option<u32>,
) -> Result<Option<Output>> {
    let filter = display_name.map(|d| format!("startswith(displayName,'{}')", quote(&d)));
    let query: Vec<(&str, &str)> = filter
        .as_deref()
        .map(|f| vec![("$filter", f)])
        .unwrap_or_default();
    let v = s
        .graph(Method::GET, "/v1.0/servicePrincipals", &query, None)
        .await?;
    let Value::Array(items) = values(v) else {
        bail!("the directory's service principal list is not a list");
    };
    let now = OffsetDateTime::now_utc();
    let items: Vec<Value> = match expiring_within {
        Some(days) => {
            let before = now + time::Duration::days(i64::from(days));
            items
                .into_iter()
                .filter(|sp| credentials(sp).iter().any(|(_, end, _)| *end <= before))
                .collect()
        }
        None => items,
    };
    for sp in &items {
        warn_credentials(sp);
    }
    Ok(Some(Output::new(Value::Array(items), sp_columns())))
}

/// Every credential of a service principal's JSON: (keyId, end, kind).
fn credentials(sp: &Value) -> Vec<(String, OffsetDateTime, &'static str)> {
    let mut out = Vec::new();
    for (list, kind) in [
        ("passwordCredentials", "client secret"),
        ("keyCredentials", "certificate"),
    ] {
        for c in sp[list].as_array().into_iter().flatten() {
            if let Some(end) = c["endDateTime"]
                .as_str()
                .and_then(|e| OffsetDateTime::parse(e, &Rfc3339).ok())
            {
                out.push((
                    c["keyId"].as_str().unwrap_or_default().to_owned(),
                    end,
                    kind,
                ));
            }
        }
    }
    out
}

/// Warns about each credential of a listed service principal (or
/// application) that ends within 30 days.
fn warn_credentials(v: &Value) {
    let app_id = v["appId"].as_str().unwrap_or_default();
    for (key_id, end, kind) in credentials(v) {
        warn_if_expiring(app_id, kind, Some(&key_id), end);
    }
}

/// `WARNING: …` on stderr when `end` is within 30 days (or past).
pub fn warn_if_expiring(app_id: &str, kind: &str, key_id: Option<&str>, end: OffsetDateTime) {
    let left = end - OffsetDateTime::now_utc();
    if left > time::Duration::days(WARN_DAYS) {
        return;
    }
    let which = key_id.map(|k| format!(" {k}")).unwrap_or_default();
    let when = end.format(&Rfc3339).unwrap_or_default();
    let state = if left <= time::Duration::ZERO {
        format!("expired at {when}")
    } else {
        format!("expires at {when}, in {} day(s)", left.whole_days())
    };
    eprintln!(
        "WARNING: the {kind}{which} of service principal {app_id} {state}. Renew it with \
         `acrylic ad sp credential reset --id {app_id} --append`, then delete the old one."
    );
}

/// The end of a new credential: `--end-date`, `--years` × 365 days, or
/// `None` (the server's default: exactly one year).
fn end_of(v: &ValidityArgs) -> Result<Option<String>> {
    if let Some(d) = &v.end_date {
        let t = OffsetDateTime::parse(d, &Rfc3339)
            .or_else(|_| {
                let f = time::macros::format_description!("[year]-[month]-[day]");
                time::Date::parse(d, f).map(|d| d.with_time(time::Time::MIDNIGHT).assume_utc())
            })
            .map_err(|_| {
                CliError::Usage(format!(
                    "--end-date {d:?}: expected a date like 2027-12-31 or 2027-12-31T23:59:59Z"
                ))
            })?;
        return Ok(Some(t.format(&Rfc3339)?));
    }
    match v.years {
        Some(0) => Err(CliError::Usage("--years must be at least 1".into()).into()),
        Some(y) => {
            let end = OffsetDateTime::now_utc() + time::Duration::days(YEAR_DAYS * i64::from(y));
            Ok(Some(end.format(&Rfc3339)?))
        }
        None => Ok(None),
    }
}

/// The application of `id` (appId or object id, or a service principal's
/// appId): its JSON.
async fn application(s: &Session, id: &str) -> Result<Value> {
    match s.graph(Method::GET, &app_path(id), &[], None).await {
        Ok(v) => Ok(clean(v)),
        Err(e) => {
            // A service principal's object id: find its application.
            let sp = s
                .graph(Method::GET, &sp_path(id), &[], None)
                .await
                .map_err(|_| e)?;
            let app_id = sp
                .as_ref()
                .and_then(|v| v["appId"].as_str())
                .context("the service principal has no appId")?
                .to_owned();
            Ok(clean(
                s.graph(Method::GET, &app_path(&app_id), &[], None).await?,
            ))
        }
    }
}

/// What a new credential printed: the secret, or the certificate file.
enum NewCredential {
    Secret(String),
    Certificate(Option<PathBuf>),
}

/// Adds a credential to the application and, unless `append`, removes
/// the others of its kind (after the new one exists).
async fn new_credential(
    s: &Session,
    app: &Value,
    append: bool,
    display_name: Option<String>,
    validity: &ValidityArgs,
    cert: &CertArgs,
) -> Result<NewCredential> {
    let app_id = app["appId"]
        .as_str()
        .context("the application has no appId")?;
    let end = end_of(validity)?;
    let certificate = cert.create_cert || cert.cert.is_some();
    let (added, out) = if certificate {
        let (der, file) = if cert.create_cert {
            let not_after = match &end {
                Some(e) => OffsetDateTime::parse(e, &Rfc3339)?,
                None => OffsetDateTime::now_utc() + time::Duration::days(YEAR_DAYS),
            };
            let name = app["displayName"].as_str().unwrap_or("acrylic");
            let (der, pem) = generate_certificate(name, not_after)?;
            let path = write_private_pem(&pem)?;
            (der, Some(path))
        } else {
            let raw = cert.cert.as_deref().unwrap_or_default();
            (read_certificate_arg(raw)?, None)
        };
        let mut key = json!({
            "type": "AsymmetricX509Cert",
            "usage": "Verify",
            "key": STANDARD.encode(&der),
        });
        if let Some(o) = key.as_object_mut() {
            if let Some(d) = &display_name {
                o.insert("displayName".into(), json!(d));
            }
            if let Some(e) = &end
                && cert.cert.is_some()
            {
                o.insert("endDateTime".into(), json!(e));
            }
        }
        let v = s
            .graph(
                Method::POST,
                &format!("{}/addKey", app_path(app_id)),
                &[],
                Some(&json!({"keyCredential": key})),
            )
            .await?
            .unwrap_or(Value::Null);
        (v, NewCredential::Certificate(file))
    } else {
        let mut p = json!({});
        if let Some(o) = p.as_object_mut() {
            if let Some(d) = &display_name {
                o.insert("displayName".into(), json!(d));
            }
            if let Some(e) = &end {
                o.insert("endDateTime".into(), json!(e));
            }
        }
        let v = s
            .graph(
                Method::POST,
                &format!("{}/addPassword", app_path(app_id)),
                &[],
                Some(&json!({"passwordCredential": p})),
            )
            .await?
            .unwrap_or(Value::Null);
        let secret = v["secretText"]
            .as_str()
            .context("the directory answered no secretText")?
            .to_owned();
        (v, NewCredential::Secret(secret))
    };
    if !append {
        let new_key = added["keyId"].as_str().unwrap_or_default();
        let (list, action) = if certificate {
            ("keyCredentials", "removeKey")
        } else {
            ("passwordCredentials", "removePassword")
        };
        for old in app[list].as_array().into_iter().flatten() {
            let Some(key_id) = old["keyId"].as_str().filter(|k| *k != new_key) else {
                continue;
            };
            s.graph(
                Method::POST,
                &format!("{}/{action}", app_path(app_id)),
                &[],
                Some(&json!({"keyId": key_id})),
            )
            .await
            .with_context(|| format!("removing the old credential {key_id}"))?;
        }
    }
    Ok(out)
}

/// az's answer: appId, [displayName,] password or fileWithCertAndPrivateKey, tenant.
fn credential_output(app: &Value, tenant: &str, new: &NewCredential, with_name: bool) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("appId".into(), app["appId"].clone());
    if with_name {
        out.insert("displayName".into(), app["displayName"].clone());
    }
    match new {
        NewCredential::Secret(secret) => {
            out.insert("password".into(), json!(secret));
        }
        NewCredential::Certificate(file) => {
            if let Some(f) = file {
                out.insert(
                    "fileWithCertAndPrivateKey".into(),
                    json!(f.display().to_string()),
                );
            }
            out.insert("password".into(), Value::Null);
        }
    }
    out.insert("tenant".into(), json!(tenant));
    Value::Object(out)
}

async fn create_for_rbac(
    s: &Session,
    name: Option<String>,
    role: Option<String>,
    scopes: Vec<String>,
    validity: ValidityArgs,
    cert: CertArgs,
) -> Result<Option<Output>> {
    let name = name.unwrap_or_else(|| {
        let f = time::macros::format_description!(
            "acrylic-[year]-[month]-[day]-[hour]-[minute]-[second]"
        );
        OffsetDateTime::now_utc()
            .format(f)
            .unwrap_or_else(|_| "acrylic".into())
    });
    let filter = format!("displayName eq '{}'", quote(&name));
    let existing = values(
        s.graph(
            Method::GET,
            "/v1.0/applications",
            &[("$filter", filter.as_str())],
            None,
        )
        .await?,
    );
    let (app, reused) = match existing.as_array().and_then(|a| a.first()) {
        Some(a) => {
            eprintln!(
                "Found an existing application instance: (id) {}. We will patch it.",
                a["id"].as_str().unwrap_or_default()
            );
            (a.clone(), true)
        }
        None => (
            clean(
                s.graph(
                    Method::POST,
                    "/v1.0/applications",
                    &[],
                    Some(&json!({"displayName": name, "signInAudience": "AzureADMyOrg"})),
                )
                .await?,
            ),
            false,
        ),
    };
    let app_id = app["appId"]
        .as_str()
        .context("the directory answered no appId")?
        .to_owned();
    let sp = match s.graph(Method::GET, &sp_path(&app_id), &[], None).await {
        Ok(v) => clean(v),
        Err(_) => clean(
            s.graph(
                Method::POST,
                "/v1.0/servicePrincipals",
                &[],
                Some(&json!({"appId": app_id})),
            )
            .await?,
        ),
    };
    let sp_id = sp["id"]
        .as_str()
        .context("the directory answered no service principal id")?
        .to_owned();
    let new = new_credential(s, &app, !reused, None, &validity, &cert).await?;
    if let Some(role) = role {
        for scope in &scopes {
            eprintln!("Creating '{role}' role assignment under scope '{scope}'");
            super::role::assign(s, scope, &role, &sp_id, "ServicePrincipal").await?;
        }
    }
    eprintln!(
        "The output includes credentials that you must protect. Be sure that you do not include \
         these credentials in your code or check the credentials into your source control."
    );
    Ok(Some(Output::new(
        credential_output(&app, &s.tenant_id, &new, true),
        vec![
            col("AppId", "appId"),
            col("DisplayName", "displayName"),
            col("Password", "password"),
            col("Tenant", "tenant"),
        ],
    )))
}

async fn credential(s: &Session, cmd: CredentialCommand) -> Result<Option<Output>> {
    match cmd {
        CredentialCommand::Reset {
            id,
            append,
            display_name,
            validity,
            cert,
        } => {
            let app = application(s, &id).await?;
            let new = new_credential(s, &app, append, display_name, &validity, &cert).await?;
            Ok(Some(Output::new(
                credential_output(&app, &s.tenant_id, &new, false),
                vec![
                    col("AppId", "appId"),
                    col("Password", "password"),
                    col("Tenant", "tenant"),
                ],
            )))
        }
        CredentialCommand::List { id, cert } => {
            let app = application(s, &id).await?;
            let list = if cert {
                "keyCredentials"
            } else {
                "passwordCredentials"
            };
            warn_credentials(&app);
            Ok(Some(Output::new(
                app[list].clone(),
                vec![
                    col("KeyId", "keyId"),
                    col("DisplayName", "displayName"),
                    col("Hint", "hint"),
                    col("StartDateTime", "startDateTime"),
                    col("EndDateTime", "endDateTime"),
                ],
            )))
        }
        CredentialCommand::Delete { id, key_id, cert } => {
            let app = application(s, &id).await?;
            let app_id = app["appId"]
                .as_str()
                .context("the application has no appId")?;
            let action = if cert { "removeKey" } else { "removePassword" };
            s.graph(
                Method::POST,
                &format!("{}/{action}", app_path(app_id)),
                &[],
                Some(&json!({"keyId": key_id})),
            )
            .await?;
            Ok(None)
        }
    }
}

fn sp_columns() -> Vec<Column> {
    vec![
        col("DisplayName", "displayName"),
        col("Id", "id"),
        col("AppId", "appId"),
        col("AccountEnabled", "accountEnabled"),
        col("AppOwnerOrganizationId", "appOwnerOrganizationId"),
    ]
}

// -- certificates and client assertions --

/// A certificate file: the certificate (DER) and its private key (PEM).
pub struct CertificateFile {
    pub der: Vec<u8>,
    pub key_pem: String,
}

/// The DER of every `-----BEGIN <label>-----` block in `text`.
fn pem_blocks(text: &str, label: &str) -> Vec<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&begin) {
        let after = &rest[start + begin.len()..];
        let Some(stop) = after.find(&end) else { break };
        let body: String = after[..stop]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if let Ok(der) = STANDARD.decode(body) {
            out.push(der);
        }
        rest = &after[stop + end.len()..];
    }
    out
}

/// Reads a PEM file holding a certificate and its (unencrypted) private
/// key, as `--create-cert` writes and `az login --service-principal
/// --certificate` reads.
pub fn read_certificate_file(path: &Path) -> Result<CertificateFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the certificate file {}", path.display()))?;
    let der = pem_blocks(&text, "CERTIFICATE")
        .into_iter()
        .next()
        .with_context(|| format!("{} holds no CERTIFICATE block", path.display()))?;
    let key_pem = ["PRIVATE KEY", "RSA PRIVATE KEY"]
        .iter()
        .find_map(|label| {
            let begin = format!("-----BEGIN {label}-----");
            let end = format!("-----END {label}-----");
            let start = text.find(&begin)?;
            let stop = text[start..].find(&end)? + start + end.len();
            Some(text[start..stop].to_owned())
        })
        .with_context(|| {
            format!(
                "{} holds no unencrypted PRIVATE KEY block next to the certificate",
                path.display()
            )
        })?;
    Ok(CertificateFile { der, key_pem })
}

/// `--cert`: `@file.pem`, a PEM string, or base64 DER.
fn read_certificate_arg(arg: &str) -> Result<Vec<u8>> {
    let text = match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
        None => arg.to_owned(),
    };
    if let Some(der) = pem_blocks(&text, "CERTIFICATE").into_iter().next() {
        return Ok(der);
    }
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD
        .decode(compact)
        .map_err(|_| CliError::Usage("--cert: no PEM CERTIFICATE and not base64 DER".into()).into())
}

/// A self-signed RSA-2048 certificate for `name`, valid from now until
/// `not_after`: (DER, PEM of the certificate followed by its PKCS#8 key).
pub fn generate_certificate(name: &str, not_after: OffsetDateTime) -> Result<(Vec<u8>, String)> {
    let key =
        rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).context("generating an RSA key")?;
    let mut params =
        rcgen::CertificateParams::new(Vec::<String>::new()).context("certificate parameters")?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, name);
    params.distinguished_name = dn;
    params.not_before = OffsetDateTime::now_utc() - time::Duration::minutes(5);
    params.not_after = not_after;
    let cert = params
        .self_signed(&key)
        .context("self-signing the certificate")?;
    let pem = format!("{}{}", cert.pem(), key.serialize_pem());
    Ok((cert.der().to_vec(), pem))
}

/// Writes a new 0600 file with the certificate and key in the current
/// directory (az writes to the home directory's temp name); its path.
fn write_private_pem(pem: &str) -> Result<PathBuf> {
    let dir = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let f = time::macros::format_description!("[year][month][day][hour][minute][second]");
    let stamp = OffsetDateTime::now_utc().format(f).unwrap_or_default();
    let path = dir.join(format!(
        "acrylic-sp-{stamp}-{}.pem",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    Ok(path)
}

/// A client assertion for `client_id` at `token_endpoint`, signed PS256
/// with the certificate's key, naming the certificate by `x5t#S256`,
/// living 10 minutes (MSAL's shape, acr-auth.md §5.1).
pub fn client_assertion(
    cert: &CertificateFile,
    client_id: &str,
    token_endpoint: &str,
) -> Result<String> {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    header.x5t_s256 = Some(URL_SAFE_NO_PAD.encode(Sha256::digest(&cert.der)));
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({
        "aud": token_endpoint,
        "iss": client_id,
        "sub": client_id,
        "jti": uuid::Uuid::new_v4().to_string(),
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    });
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(cert.key_pem.as_bytes())
        .context("the certificate file's private key is not an RSA key")?;
    jsonwebtoken::encode(&header, &claims, &key).context("signing the client assertion")
}

/// A token of a service principal for `scope` (`<resource>/.default`),
/// with its secret or certificate, warning when that credential ends
/// within 30 days.
pub async fn service_principal_token(
    client: &Client,
    tenant: &str,
    login: &ServicePrincipalLogin,
    scope: &str,
) -> Result<TokenResponse> {
    let credential = match (&login.secret, &login.certificate) {
        (Some(secret), _) => ClientCredential::Secret(secret.clone()),
        (None, Some(path)) => {
            let cert = read_certificate_file(path)?;
            let endpoint = format!("{}/{tenant}/oauth2/v2.0/token", client.base_url());
            ClientCredential::Assertion(client_assertion(&cert, &login.app_id, &endpoint)?)
        }
        (None, None) => {
            return Err(CliError::Usage(
                "the service principal sign-in has no secret or certificate; run `acrylic login \
                 --service-principal` again"
                    .into(),
            )
            .into());
        }
    };
    let (token, ends) = client
        .client_credentials(tenant, &login.app_id, &credential, scope)
        .await?;
    if let Some(end) = ends.and_then(|e| OffsetDateTime::parse(&e, &Rfc3339).ok()) {
        let kind = if login.secret.is_some() {
            "client secret"
        } else {
            "certificate"
        };
        warn_if_expiring(&login.app_id, kind, None, end);
    }
    Ok(token)
}

/// Warns on stderr when the client secret `secret` of `app_id` ends
/// within 30 days, by asking the directory for a token with it (the answer
/// names the credential's end) — for commands that hand a secret on, such
/// as `acr pull-secret create --service-principal`. Best effort: it says
/// nothing when the directory cannot be asked.
pub async fn warn_secret_expiry(ctx: &super::Context, app_id: &str, secret: &str) {
    let Ok(profile) = ctx.profile() else { return };
    let tokens = ctx.store.load_tokens().ok().flatten();
    let tenant = tokens
        .as_ref()
        .map(|t| t.tenant_id.clone())
        .or_else(|| profile.tenant.clone());
    let server = profile
        .server_url
        .clone()
        .or_else(|| tokens.as_ref().map(|t| t.server_url.clone()));
    let (Some(tenant), Some(server)) = (tenant, server) else {
        return;
    };
    let Ok(client) = Client::new(&server, profile.ca_cert.as_deref()) else {
        return;
    };
    let login = ServicePrincipalLogin {
        app_id: app_id.to_owned(),
        secret: Some(secret.to_owned()),
        certificate: None,
    };
    let scope = "https://containerregistry.azure.net/.default";
    if let Err(e) = service_principal_token(&client, &tenant, &login, scope).await {
        tracing::debug!(error = %e, "could not read the secret's expiry");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_files_round_trip() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let end = OffsetDateTime::now_utc() + time::Duration::days(30);
        let (der, pem) = generate_certificate("ci", end).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("c.pem");
        std::fs::write(&path, &pem).unwrap_or_else(|e| panic!("{e}"));
        let file = read_certificate_file(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.der, der);
        assert!(file.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let jwt = client_assertion(&file, "app", "https://h/t/oauth2/v2.0/token")
            .unwrap_or_else(|e| panic!("{e}"));
        let header: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(jwt.split('.').next().unwrap_or_default())
                .unwrap_or_default(),
        )
        .unwrap_or_default();
        assert_eq!(header["alg"], "PS256");
        assert_eq!(
            header["x5t#S256"],
            URL_SAFE_NO_PAD.encode(Sha256::digest(&der))
        );
        assert_eq!(
            read_certificate_arg(&format!("@{}", path.display())).ok(),
            Some(der.clone())
        );
        assert_eq!(read_certificate_arg(&STANDARD.encode(&der)).ok(), Some(der));
    }

    #[test]
    fn end_dates() {
        let given = ValidityArgs {
            years: None,
            end_date: Some("2027-12-31".into()),
        };
        assert_eq!(
            end_of(&given).ok().flatten().as_deref(),
            Some("2027-12-31T00:00:00Z")
        );
        let none = ValidityArgs {
            years: None,
            end_date: None,
        };
        assert_eq!(end_of(&none).ok().flatten(), None);
        let bad = ValidityArgs {
            years: None,
            end_date: Some("tomorrow".into()),
        };
        assert!(end_of(&bad).is_err());
    }
}
