//! `acrylic acr login --name R [--expose-token] [--username U --password P]`
//! — `az acr login` (acr-auth.md §4.1, spec/clients.md "azure-cli against
//! a self-hosted cloud").
//!
//! Steps, as az takes them:
//! 1. the login server: `properties.loginServer` of the registry over ARM
//!    (found by name in the subscription, or in `--resource-group`); a
//!    `--name` that already is a login server (`host[:port]`) is used as
//!    is, so a user who may pull but not read the registry resource (AcrPull
//!    grants no ARM read) can still log in;
//! 2. `GET https://<login server>/v2/`: the challenge's `realm` decides the
//!    host of the exchange, its `service` the value sent;
//! 3. a directory access token of the current sign-in for
//!    `https://containerregistry.azure.net`, exchanged at
//!    `POST <realm scheme://host>/oauth2/exchange` with
//!    `grant_type=access_token&service&tenant&access_token` for a 3-hour
//!    registry refresh token;
//! 4. the null GUID and that refresh token stored where docker, podman and
//!    skopeo read credentials ([`crate::registry_creds`]), as `docker
//!    login` would leave them — or, with `--expose-token`, printed as
//!    `{"accessToken", "loginServer", "username", "refreshToken"}` (both
//!    token fields hold the refresh token, as az's do) and stored nowhere.
//!
//! With `--username/--password` there is no exchange: the pair is checked
//! at the registry's token endpoint (as `docker login` checks it) and
//! stored as given.

use std::io::Read as _;
use std::time::Duration;

use anyhow::{Context as _, Result};
use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::{Value, json};

use super::{Context, Session};
use crate::client::CliError;
use crate::output::{Output, col};
use crate::registry_creds::{self, NULL_GUID, Secret};

const PROVIDER: &str = "providers/Microsoft.ContainerRegistry";
/// The audience az asks for before an exchange (acr-auth.md §2.1, §4.1).
pub const ACR_AUDIENCE: &str = "https://containerregistry.azure.net";

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The registry's name, or its login server (`host[:port]`).
    #[arg(short, long)]
    name: String,
    /// Resource group (default: the registry is found by name).
    #[arg(short = 'g', long)]
    resource_group: Option<String>,
    /// Print the registry refresh token as JSON instead of storing it
    /// (needs no docker, podman or skopeo).
    #[arg(short = 't', long, conflicts_with_all = ["username", "password", "password_stdin"])]
    expose_token: bool,
    /// Log in with this username (the admin user: the registry name) instead
    /// of the directory sign-in.
    #[arg(short, long, requires = "secret")]
    username: Option<String>,
    /// The password for --username.
    #[arg(short, long, group = "secret", requires = "username")]
    password: Option<String>,
    /// Read the password for --username from stdin.
    #[arg(long, group = "secret", requires = "username")]
    password_stdin: bool,
}

pub async fn run(ctx: &Context, args: LoginArgs) -> Result<Option<Output>> {
    let profile = ctx.profile()?;
    let server = profile.server_url.clone().ok_or(CliError::NoServer)?;
    let scheme = url::Url::parse(&server)
        .with_context(|| format!("the profile's serverUrl {server:?} is not a URL"))?
        .scheme()
        .to_owned();
    let http = registry_client(profile.ca_cert.as_deref())?;
    // A session is needed for the directory token, and to look the
    // registry up by name; a login server with a password needs neither.
    let session = match (&args.username, is_login_server(&args.name)) {
        (Some(_), true) => ctx.session().ok(),
        _ => Some(ctx.session()?),
    };
    let login_server = match (&session, is_login_server(&args.name)) {
        (_, true) => args.name.to_ascii_lowercase(),
        (Some(s), false) => {
            find_login_server(s, &args.name, args.resource_group.as_deref()).await?
        }
        (None, false) => return Err(CliError::NotLoggedIn.into()),
    };
    let challenge = probe(&http, &scheme, &login_server).await?;

    let secret = match args.username.clone() {
        Some(username) => {
            let password = read_password(&args)?;
            check_password(&http, &challenge, &login_server, &username, &password).await?;
            if username == NULL_GUID {
                Secret::RefreshToken(password)
            } else {
                Secret::Password { username, password }
            }
        }
        None => {
            let s = session.as_ref().ok_or(CliError::NotLoggedIn)?;
            let (token, tenant) = directory_token(ctx, s).await?;
            let refresh = exchange(&http, &challenge, &login_server, &token, &tenant).await?;
            if args.expose_token {
                eprintln!(
                    "WARNING: You can perform manual login using the provided refresh token below, for example: \
                     'docker login {login_server} -u {NULL_GUID} -p <refreshToken>'. \
                     Both accessToken and refreshToken hold the registry refresh token."
                );
                return Ok(Some(Output::new(
                    json!({
                        "accessToken": refresh,
                        "loginServer": login_server,
                        "username": NULL_GUID,
                        "refreshToken": refresh,
                    }),
                    vec![
                        col("LOGIN SERVER", "loginServer"),
                        col("USERNAME", "username"),
                    ],
                )));
            }
            Secret::RefreshToken(refresh)
        }
    };
    let files = registry_creds::store(&ctx.store, &login_server, &secret)?;
    for f in &files {
        eprintln!("Credentials for {login_server} written to {}", f.display());
    }
    eprintln!("Login Succeeded");
    Ok(None)
}

/// A directory access token of the current sign-in for [`ACR_AUDIENCE`]
/// and its tenant, from the stored directory refresh token. A sign-in
/// without one (it was dropped, or predates refresh tokens) falls back to
/// the stored ARM token, which registries accept unless their
/// `azureADAuthenticationAsArmPolicy` is disabled (acr-auth.md §2.1).
pub(crate) async fn directory_token(ctx: &Context, s: &Session) -> Result<(String, String)> {
    match ctx.token_for(ACR_AUDIENCE).await {
        Ok(t) => Ok((t.access_token, t.tenant_id)),
        Err(e) if matches!(e.downcast_ref::<CliError>(), Some(CliError::SessionExpired)) => {
            Ok((s.token.clone(), s.tenant_id.clone()))
        }
        Err(e) => Err(e),
    }
}

/// A name with a dot or a port is a login server, not a registry name
/// (registry names are alphanumeric).
pub(crate) fn is_login_server(name: &str) -> bool {
    name.contains('.') || name.contains(':')
}

/// `properties.loginServer` of the registry, over ARM, or by the cloud's
/// naming rule for callers who may not read the registry resource.
pub(crate) async fn find_login_server(
    s: &Session,
    name: &str,
    resource_group: Option<&str>,
) -> Result<String> {
    let sub = s.subscription()?;
    let found = match resource_group {
        Some(rg) => s
            .arm(
                reqwest::Method::GET,
                &format!(
                    "/subscriptions/{sub}/resourceGroups/{rg}/{PROVIDER}/registries/{}",
                    name
                ),
                None,
            )
            .await
            .ok()
            .flatten(),
        None => s
            .arm(
                reqwest::Method::GET,
                &format!("/subscriptions/{sub}/{PROVIDER}/registries"),
                None,
            )
            .await?
            .and_then(|v| v.get("value").cloned())
            .and_then(|v| match v {
                Value::Array(list) => list.into_iter().find(|r| {
                    r.get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                }),
                _ => None,
            }),
    };
    if let Some(server) = found
        .as_ref()
        .and_then(|r| r.pointer("/properties/loginServer"))
        .and_then(Value::as_str)
    {
        return Ok(server.to_owned());
    }
    // Callers who may pull but not read the registry resource (AcrPull,
    // AcrPush): like `az acr login`, fall back to the cloud's login-server
    // suffix, from the server's public cloud metadata.
    cloud_login_server(s, name).await.ok_or_else(|| {
        CliError::Usage(format!(
            "the registry '{name}' was not found in subscription {sub}, or you may not read it. \
                 Run `acrylic acr list` to see the registries you can read, or pass the registry's \
                 login server: `acrylic acr login --name <host:port>`",
            name = name
        ))
        .into()
    })
}

/// The login server of registry `name` by the cloud's naming rule: the
/// registry on the bare listener address, else `<name>.<acrLoginServer>`.
async fn cloud_login_server(s: &Session, name: &str) -> Option<String> {
    let meta = s.client.cloud_metadata().await?;
    let bare = meta.pointer("/acrylic/bareAddressRegistry");
    if let Some(b) = bare
        && b["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    {
        return b["loginServer"].as_str().map(str::to_owned);
    }
    let suffix = meta.pointer("/suffixes/acrLoginServer")?.as_str()?;
    Some(format!("{}.{suffix}", name.to_ascii_lowercase()))
}

/// What `GET /v2/` says about where tokens come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// `scheme://host[:port]` of the realm.
    origin: String,
    /// The realm itself (the token endpoint).
    pub(crate) realm: String,
    pub(crate) service: String,
}

/// `GET <scheme>://<login server>/v2/`: the connectivity check and the
/// challenge (acr-auth.md §4.1 steps 3 and 5).
pub(crate) async fn probe(
    http: &reqwest::Client,
    scheme: &str,
    login_server: &str,
) -> Result<Challenge> {
    let url = format!("{scheme}://{login_server}/v2/");
    let resp = http.get(&url).send().await.map_err(|e| {
        // az's wording; a registry found by the cloud's naming rule may not
        // exist, so say how to name it exactly.
        CliError::Usage(format!(
            "Could not connect to the registry login server '{login_server}': {}. Please verify \
             that the registry exists and that {url} is reachable from here, or pass the \
             registry's login server: `--name <host:port>`",
            chain(&e)
        ))
    })?;
    let header = resp
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    match (resp.status(), header) {
        (StatusCode::UNAUTHORIZED, Some(h)) => parse_challenge(&h).ok_or_else(|| {
            CliError::Usage(format!(
                "the registry at {login_server} answered with a challenge acrylic cannot use: {h}"
            ))
            .into()
        }),
        (StatusCode::FORBIDDEN, _) => Err(CliError::Usage(format!(
            "Looks like you don't have access to registry '{login_server}' (403 at /v2/): a firewall or network rule may refuse this client"
        ))
        .into()),
        (status, _) => Err(CliError::Usage(format!(
            "the server at {login_server} is not a registry that asks for tokens (GET /v2/ answered {status})"
        ))
        .into()),
    }
}

/// `Bearer realm="…",service="…"[,scope="…"]` (acr-auth.md §1.1).
fn parse_challenge(header: &str) -> Option<Challenge> {
    let (scheme, params) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut realm = None;
    let mut service = None;
    let mut rest = params.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let after = after.strip_prefix('"')?;
        let (value, tail) = after.split_once('"')?;
        match key.trim().to_ascii_lowercase().as_str() {
            "realm" => realm = Some(value.to_owned()),
            "service" => service = Some(value.to_owned()),
            _ => {}
        }
        rest = tail.trim_start_matches(',').trim();
    }
    let realm = realm?;
    let url = url::Url::parse(&realm).ok()?;
    let host = url.host_str()?;
    let origin = match url.port() {
        Some(p) => format!("{}://{host}:{p}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    };
    Some(Challenge {
        origin,
        realm,
        service: service?,
    })
}

/// `POST <origin>/oauth2/exchange` → the registry refresh token.
pub(crate) async fn exchange(
    http: &reqwest::Client,
    challenge: &Challenge,
    login_server: &str,
    access_token: &str,
    tenant: &str,
) -> Result<String> {
    let url = format!("{}/oauth2/exchange", challenge.origin);
    let form = [
        ("grant_type", "access_token"),
        ("service", challenge.service.as_str()),
        ("tenant", tenant),
        ("access_token", access_token),
    ];
    let resp = http.post(&url).form(&form).send().await.map_err(|e| {
        CliError::Usage(format!(
            "Could not connect to {url} for registry '{login_server}': {}",
            chain(&e)
        ))
    })?;
    let status = resp.status();
    let body = resp.bytes().await.unwrap_or_default();
    if status.is_success() {
        let v: Value = serde_json::from_slice(&body)
            .with_context(|| format!("the answer of {url} is not JSON"))?;
        return v
            .get("refresh_token")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                CliError::Usage(format!("the answer of {url} holds no refresh_token")).into()
            });
    }
    Err(CliError::Usage(format!(
        "Access to registry '{login_server}' was denied. Response code: {}. {}",
        status.as_u16(),
        acr_message(&body)
    ))
    .into())
}

/// Checks a username and password at the token endpoint, as `docker
/// login` does (acr-auth.md §3.2).
async fn check_password(
    http: &reqwest::Client,
    challenge: &Challenge,
    login_server: &str,
    username: &str,
    password: &str,
) -> Result<()> {
    let resp = http
        .get(&challenge.realm)
        .query(&[("service", challenge.service.as_str())])
        .basic_auth(username, Some(password))
        .send()
        .await
        .map_err(|e| {
            CliError::Usage(format!(
                "Could not connect to {} for registry '{login_server}': {}",
                challenge.realm,
                chain(&e)
            ))
        })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let body = resp.bytes().await.unwrap_or_default();
    Err(CliError::Usage(format!(
        "the registry '{login_server}' refused the login of {username} ({}): {}",
        status.as_u16(),
        acr_message(&body)
    ))
    .into())
}

/// The message of an AcrErrors body (`errors[0].message`), else the body.
pub(crate) fn acr_message(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/errors/0/message")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(500).collect())
}

fn read_password(args: &LoginArgs) -> Result<String> {
    if let Some(p) = &args.password {
        return Ok(p.clone());
    }
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .context("reading the password from stdin")?;
    Ok(s.trim_end_matches(['\r', '\n']).to_owned())
}

/// An HTTP client for registries, trusting only the profile's CA when one
/// is set (as the control-plane client does).
pub(crate) fn registry_client(ca_cert: Option<&std::path::Path>) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("acrylic-cli/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_cert {
        let pem = std::fs::read(path).with_context(|| {
            format!(
                "reading the server's CA certificate {} (named by the profile)",
                path.display()
            )
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("{} is not a PEM certificate", path.display()))?;
        b = b.tls_certs_only(certs);
    }
    b.build().context("building the HTTP client")
}

/// reqwest's error with its causes (its Display hides e.g. TLS failures).
pub(crate) fn chain(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        out = format!("{out}: {s}");
        src = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse_as_acr_sends_them() {
        let c = parse_challenge(
            r#"Bearer realm="https://localhost:5000/oauth2/token",service="localhost:5000""#,
        );
        assert_eq!(
            c,
            Some(Challenge {
                origin: "https://localhost:5000".into(),
                realm: "https://localhost:5000/oauth2/token".into(),
                service: "localhost:5000".into(),
            })
        );
        let c = parse_challenge(
            r#"Bearer realm="https://r.example/oauth2/token",service="r.example",scope="repository:a:pull",error="invalid_token""#,
        );
        assert_eq!(c.map(|c| c.origin), Some("https://r.example".into()));
        assert_eq!(parse_challenge(r#"Basic realm="x""#), None);
        assert_eq!(parse_challenge(r#"Bearer service="s""#), None);
        assert_eq!(
            parse_challenge(r#"Bearer realm="not a url",service="s""#),
            None
        );
    }

    #[test]
    fn login_servers_and_names() {
        assert!(is_login_server("localhost:5000"));
        assert!(is_login_server("myreg.acrylic.localhost"));
        assert!(!is_login_server("myreg"));
    }

    #[test]
    fn acr_errors_give_their_message() {
        let body = br#"{"errors":[{"code":"UNAUTHORIZED","message":"nope","detail":null}]}"#;
        assert_eq!(acr_message(body), "nope");
        assert_eq!(acr_message(b"plain"), "plain");
    }
}
