//! `acrylic login`, `acrylic logout`, `acrylic account show|get-access-token`
//! — az's `login`/`logout`/`account …`, against the acrylic directory.
//!
//! Login is the resource-owner password grant, or with `--use-device-code`
//! the device authorization grant (spec §5.1), for the ARM audience with
//! `offline_access`; the access token, its expiry and the directory refresh
//! token go to `tokens.json` (0600). Later commands renew the access token
//! with the refresh token (`Context::renew_expired`). The tenant id comes
//! from the response's `client_info` (`utid`).
//!
//! With `--service-principal` (#4) an application signs in as itself: the
//! client credentials grant with `-p SECRET` (or `--password-stdin`) or a
//! `--certificate` PEM file (a signed client assertion); the secret or the
//! file's path is kept in `tokens.json` to renew the hour-long token, as az
//! keeps it, and a credential ending within 30 days is warned about.
//!
//! Logout revokes the refresh token at the directory (its whole sign-in),
//! removes `tokens.json` and erases the registry credentials `acrylic acr
//! login` wrote (`registry_creds::erase_all`).

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use base64::Engine;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{Context, Session};
use crate::client::{CliError, Client, DevicePoll, SUBSCRIPTIONS_API_VERSION, TokenResponse};
use crate::output::{Output, col};
use crate::profile::Tokens;

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// User principal name, e.g. `owner@acrylic.local` (default: the
    /// profile's user).
    #[arg(short, long)]
    username: Option<String>,
    /// The password (a user's), or a service principal's client secret.
    #[arg(short, long, conflicts_with = "password_stdin")]
    password: Option<String>,
    /// Read the password from stdin instead of prompting.
    #[arg(long)]
    password_stdin: bool,
    /// Sign in on another device's browser: print a code and a URL, then
    /// wait until the sign-in is approved there.
    #[arg(long, conflicts_with_all = ["username", "password", "password_stdin", "service_principal"])]
    use_device_code: bool,
    /// Sign in as a service principal: `-u` is its appId, with `-p SECRET`
    /// (or `--password-stdin`) or `--certificate FILE`; needs `--tenant`.
    #[arg(long, requires = "tenant")]
    service_principal: bool,
    /// A PEM file with the service principal's certificate and private key.
    #[arg(long, requires = "service_principal", conflicts_with_all = ["password", "password_stdin"])]
    certificate: Option<PathBuf>,
    /// Sign in as the managed identity of the resource this runs on, with
    /// tokens from its identity agent: no password.
    #[arg(long, conflicts_with_all = ["username", "password", "password_stdin", "service_principal", "use_device_code"])]
    identity: bool,
    /// With --identity: the user-assigned identity with this client id.
    #[arg(long, requires = "identity", conflicts_with_all = ["object_id", "resource_id"])]
    client_id: Option<String>,
    /// With --identity: the user-assigned identity with this object id.
    #[arg(long, requires = "identity", conflicts_with = "resource_id")]
    object_id: Option<String>,
    /// With --identity: the user-assigned identity with this resource id.
    #[arg(long, requires = "identity")]
    resource_id: Option<String>,
    /// With --identity: the identity agent's IMDS URL (default: from
    /// IDENTITY_ENDPOINT/IDENTITY_HEADER or AZURE_POD_IDENTITY_AUTHORITY_HOST).
    #[arg(long, requires = "identity")]
    agent_url: Option<String>,
    /// Tenant id or domain (default: the profile's tenant, else `organizations`).
    #[arg(short, long)]
    tenant: Option<String>,
    /// The server's URL, e.g. `https://127.0.0.1:5000` (saved to the profile).
    #[arg(long)]
    server: Option<String>,
    /// PEM file of the CA that signed the server's certificate (saved to the profile).
    #[arg(long)]
    ca_cert: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum AccountCommand {
    /// Show the signed-in account and its default subscription.
    Show,
    /// Print an access token of the sign-in (az's shape), for ARM unless
    /// another resource is named.
    GetAccessToken {
        /// Resource URI, e.g. `https://containerregistry.azure.net`.
        #[arg(long, conflicts_with = "scope")]
        resource: Option<String>,
        /// Scope, e.g. `https://graph.microsoft.com/.default`.
        #[arg(long)]
        scope: Option<String>,
    },
}

pub async fn login(ctx: &Context, args: LoginArgs) -> Result<Option<Output>> {
    let mut profile = ctx.profile()?;
    if let Some(s) = args.server {
        profile.server_url = Some(s);
    }
    if let Some(ca) = args.ca_cert {
        let abs =
            std::fs::canonicalize(&ca).with_context(|| format!("--ca-cert {}", ca.display()))?;
        profile.ca_cert = Some(abs);
    }
    if let Some(t) = args.tenant {
        profile.tenant = Some(t);
    }
    let server = profile.server_url.clone().ok_or(CliError::NoServer)?;
    let tenant = profile
        .tenant
        .clone()
        .unwrap_or_else(|| "organizations".into());
    let client = Client::new(&server, profile.ca_cert.as_deref())?;
    if args.service_principal {
        let sp = ServicePrincipalArgs {
            app_id: args.username,
            password: args.password,
            password_stdin: args.password_stdin,
            certificate: args.certificate,
        };
        return service_principal_login(ctx, sp, profile, client, server, tenant).await;
    }
    if args.identity {
        let who = super::managed_login::Selector {
            client_id: args.client_id,
            object_id: args.object_id,
            resource_id: args.resource_id,
        };
        let login = super::managed_login::find_agent(args.agent_url, who)?;
        return managed_identity_login(ctx, login, profile, client, server).await;
    }

    let (resp, username) = if args.use_device_code {
        let resp = device_sign_in(&client, &tenant).await?;
        let username = resp
            .id_token
            .as_deref()
            .and_then(id_token_user)
            .context("the directory's answer names no user (no id_token)")?;
        (resp, username)
    } else {
        let username = match args.username.or_else(|| profile.user.clone()) {
            Some(u) => u,
            None if std::io::stdin().is_terminal() => dialoguer::Input::<String>::new()
                .with_prompt("Username")
                .interact_text()?,
            None => {
                return Err(
                    CliError::Usage("pass --username (no terminal to prompt on)".into()).into(),
                );
            }
        };
        let password = if let Some(p) = args.password {
            p
        } else if args.password_stdin {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading the password from stdin")?;
            s.trim_end_matches(['\r', '\n']).to_owned()
        } else if std::io::stdin().is_terminal() {
            dialoguer::Password::new()
                .with_prompt("Password")
                .interact()?
        } else {
            return Err(CliError::Usage(
                "no terminal to prompt for the password: pass it on stdin with --password-stdin, \
                 or use --use-device-code"
                    .into(),
            )
            .into());
        };
        (
            client.sign_in(&tenant, &username, &password).await?,
            username,
        )
    };
    let tenant_id = resp
        .client_info
        .as_deref()
        .and_then(client_info_tenant)
        .unwrap_or_else(|| tenant.clone());
    let tokens = Tokens {
        access_token: resp.access_token,
        expires_on: OffsetDateTime::now_utc().unix_timestamp() + resp.expires_in,
        user: username.clone(),
        tenant_id: tenant_id.clone(),
        server_url: server.clone(),
        refresh_token: resp.refresh_token,
        service_principal: None,
        managed_identity: None,
    };
    ctx.store.save_tokens(&tokens)?;
    profile.user = Some(username.clone());

    let session = Session {
        client,
        profile: profile.clone(),
        token: tokens.access_token,
        user: username,
        tenant_id,
    };
    let subs = list_subscriptions(&session).await?;
    let known = profile.subscription.as_deref().is_some_and(|s| {
        subs.iter()
            .any(|x| x.subscription_id.eq_ignore_ascii_case(s))
    });
    if !known
        && let Some(first) = subs
            .iter()
            .find(|s| s.tenant_id.eq_ignore_ascii_case(&session.tenant_id))
    {
        profile.subscription = Some(first.subscription_id.clone());
    }
    ctx.store.save_profile(&profile)?;

    let default = profile.subscription.clone().unwrap_or_default();
    let list: Vec<Value> = subs
        .iter()
        .map(|s| {
            account_json(
                s,
                &session,
                s.subscription_id.eq_ignore_ascii_case(&default),
            )
        })
        .collect();
    Ok(Some(Output::new(Value::Array(list), account_columns())))
}

/// `acrylic login --service-principal` (#4): a token for ARM through the
/// client credentials grant, kept with what renews it.
/// What `--service-principal` signs in with.
struct ServicePrincipalArgs {
    app_id: Option<String>,
    password: Option<String>,
    password_stdin: bool,
    certificate: Option<PathBuf>,
}

async fn service_principal_login(
    ctx: &Context,
    args: ServicePrincipalArgs,
    mut profile: crate::profile::Profile,
    client: Client,
    server: String,
    tenant: String,
) -> Result<Option<Output>> {
    let app_id = args.app_id.ok_or_else(|| {
        CliError::Usage("pass the service principal's appId with --username/-u".into())
    })?;
    let certificate = match args.certificate {
        Some(c) => Some(
            std::fs::canonicalize(&c).with_context(|| format!("--certificate {}", c.display()))?,
        ),
        None => None,
    };
    let secret = match (&certificate, args.password, args.password_stdin) {
        (Some(_), _, _) => None,
        (None, Some(p), _) => Some(p),
        (None, None, true) => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading the client secret from stdin")?;
            Some(s.trim_end_matches(['\r', '\n']).to_owned())
        }
        (None, None, false) => {
            return Err(CliError::Usage(
                "pass the client secret with -p (or --password-stdin), or --certificate FILE"
                    .into(),
            )
            .into());
        }
    };
    let login = crate::profile::ServicePrincipalLogin {
        app_id: app_id.clone(),
        secret,
        certificate,
    };
    let resp = super::ad_sp::service_principal_token(
        &client,
        &tenant,
        &login,
        "https://management.core.windows.net//.default",
    )
    .await?;
    let tenant_id = token_tenant(&resp.access_token).unwrap_or_else(|| tenant.clone());
    let tokens = Tokens {
        access_token: resp.access_token,
        expires_on: OffsetDateTime::now_utc().unix_timestamp() + resp.expires_in,
        user: app_id.clone(),
        tenant_id: tenant_id.clone(),
        server_url: server,
        refresh_token: None,
        service_principal: Some(login),
        managed_identity: None,
    };
    ctx.store.save_tokens(&tokens)?;
    let session = Session {
        client,
        profile: profile.clone(),
        token: tokens.access_token,
        user: app_id,
        tenant_id,
    };
    // A service principal often may read no subscription (AcrPush on a
    // registry grants no ARM read): az's `--allow-no-subscriptions`.
    let subs = list_subscriptions(&session).await.unwrap_or_default();
    if subs.is_empty() {
        eprintln!(
            "No subscriptions found for {}; signed in to tenant {} anyway.",
            session.user, session.tenant_id
        );
    } else if !profile.subscription.as_deref().is_some_and(|s| {
        subs.iter()
            .any(|x| x.subscription_id.eq_ignore_ascii_case(s))
    }) {
        profile.subscription = Some(subs[0].subscription_id.clone());
    }
    ctx.store.save_profile(&profile)?;
    let default = profile.subscription.clone().unwrap_or_default();
    let list: Vec<Value> = subs
        .iter()
        .map(|s| {
            let mut v = account_json(
                s,
                &session,
                s.subscription_id.eq_ignore_ascii_case(&default),
            );
            v["user"]["type"] = json!("servicePrincipal");
            v
        })
        .collect();
    Ok(Some(Output::new(Value::Array(list), account_columns())))
}

/// `acrylic login --identity` (#5): an ARM token from the identity agent,
/// kept with which agent and identity renew it.
async fn managed_identity_login(
    ctx: &Context,
    login: crate::profile::ManagedIdentityLogin,
    mut profile: crate::profile::Profile,
    client: Client,
    server: String,
) -> Result<Option<Output>> {
    let t = super::managed_login::managed_identity_token(
        &login,
        "https://management.core.windows.net/",
    )
    .await?;
    let tenant_id = token_tenant(&t.access_token)
        .context("the identity agent's token names no tenant (no tid)")?;
    let (name, info) = super::managed_login::account_names(&login);
    let tokens = Tokens {
        access_token: t.access_token,
        expires_on: t.expires_on,
        user: name.to_owned(),
        tenant_id: tenant_id.clone(),
        server_url: server,
        refresh_token: None,
        service_principal: None,
        managed_identity: Some(login),
    };
    ctx.store.save_tokens(&tokens)?;
    let session = Session {
        client,
        profile: profile.clone(),
        token: tokens.access_token,
        user: name.to_owned(),
        tenant_id,
    };
    // An identity often may read no subscription (AcrPull grants no ARM
    // read): az's `--allow-no-subscriptions`.
    let subs = list_subscriptions(&session).await.unwrap_or_default();
    if subs.is_empty() {
        eprintln!(
            "No subscriptions found for the managed identity; signed in to tenant {} anyway.",
            session.tenant_id
        );
    } else if !profile.subscription.as_deref().is_some_and(|s| {
        subs.iter()
            .any(|x| x.subscription_id.eq_ignore_ascii_case(s))
    }) {
        profile.subscription = Some(subs[0].subscription_id.clone());
    }
    ctx.store.save_profile(&profile)?;
    let default = profile.subscription.clone().unwrap_or_default();
    let mut list: Vec<Value> = subs
        .iter()
        .map(|s| {
            account_json(
                s,
                &session,
                s.subscription_id.eq_ignore_ascii_case(&default),
            )
        })
        .collect();
    if list.is_empty() {
        // az prints the tenant-level account when there is no subscription.
        list.push(json!({
            "environmentName": "acrylic",
            "homeTenantId": session.tenant_id,
            "id": session.tenant_id,
            "isDefault": true,
            "name": "N/A(tenant level account)",
            "state": "Enabled",
            "tenantId": session.tenant_id,
            "user": {"name": name},
        }));
    }
    for v in &mut list {
        v["user"]["type"] = json!("servicePrincipal");
        v["user"]["assignedIdentityInfo"] = json!(info);
    }
    Ok(Some(Output::new(Value::Array(list), account_columns())))
}

/// The `tid` of a directory token (read for display and the profile; the
/// CLI trusts the TLS connection it came over).
fn token_tenant(jwt: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("tid")?.as_str().map(str::to_owned)
}

/// The device authorization grant: print the message (to stderr, as az
/// does), then poll until the user approves, declines or the code expires.
async fn device_sign_in(client: &Client, tenant: &str) -> Result<TokenResponse> {
    let auth = client.device_code(tenant).await?;
    eprintln!("{}", auth.message);
    let deadline =
        std::time::Instant::now() + Duration::from_secs(auth.expires_in.max(0).unsigned_abs());
    let mut interval = auth.interval.clamp(1, 60).unsigned_abs();
    loop {
        tokio::time::sleep(Duration::from_secs(interval)).await;
        match client.poll_device(tenant, &auth.device_code).await? {
            DevicePoll::Signed(t) => return Ok(*t),
            DevicePoll::Pending => {}
            // RFC 8628 §3.5: add five seconds for this and every later poll.
            DevicePoll::SlowDown => interval += 5,
        }
        if std::time::Instant::now() >= deadline {
            return Err(CliError::SignIn(
                "the device code expired before the sign-in was approved. Run `acrylic login --use-device-code` again".into(),
            )
            .into());
        }
    }
}

pub async fn logout(ctx: &Context) -> Result<Option<Output>> {
    let tokens = ctx.store.load_tokens()?;
    // Revoke at the directory first; a server that cannot be reached must
    // not keep the user signed in here, so that is a warning.
    if let Some(t) = &tokens
        && let Some(refresh) = &t.refresh_token
    {
        let ca = ctx.profile()?.ca_cert;
        let revoked = match Client::new(&t.server_url, ca.as_deref()) {
            Ok(c) => c.sign_out(&t.tenant_id, refresh).await,
            Err(e) => Err(e),
        };
        if let Err(e) = revoked {
            eprintln!(
                "WARNING: could not revoke the sign-in at {}: {e:#}. The local sign-in is removed anyway.",
                t.server_url
            );
        }
    }
    let removed = ctx.store.remove_tokens()?;
    let erased = crate::registry_creds::erase_all(&ctx.store)?;
    for server in &erased {
        eprintln!("Removed the registry credentials for {server}");
    }
    if !removed && erased.is_empty() {
        return Err(CliError::NotLoggedIn.into());
    }
    Ok(None)
}

pub async fn run(ctx: &Context, cmd: AccountCommand) -> Result<Option<Output>> {
    match cmd {
        AccountCommand::Show => {
            let session = ctx.session()?;
            let want = session.subscription()?.to_owned();
            let subs = list_subscriptions(&session).await?;
            let sub = subs
                .iter()
                .find(|s| s.subscription_id.eq_ignore_ascii_case(&want))
                .ok_or_else(|| {
                    CliError::Usage(format!(
                        "subscription {want} (from the profile) is not visible to {}. Run `acrylic login` to pick one you can use",
                        session.user
                    ))
                })?;
            Ok(Some(Output::new(
                account_json(sub, &session, true),
                account_columns(),
            )))
        }
        AccountCommand::GetAccessToken { resource, scope } => {
            let resource = match (resource, scope) {
                (Some(r), _) => r,
                (None, Some(s)) => {
                    s.strip_suffix("/.default")
                        .map(str::to_owned)
                        .ok_or_else(|| {
                            CliError::Usage(format!(
                                "--scope {s}: only `<resource>/.default` scopes are supported"
                            ))
                        })?
                }
                (None, None) => "https://management.core.windows.net/".to_owned(),
            };
            let t = ctx.token_for(&resource).await?;
            let subscription = ctx.profile()?.subscription.unwrap_or_default();
            Ok(Some(Output::new(
                json!({
                    "accessToken": t.access_token,
                    "expiresOn": expires_on_text(t.expires_on),
                    "expires_on": t.expires_on,
                    "subscription": subscription,
                    "tenant": t.tenant_id,
                    "tokenType": "Bearer",
                }),
                vec![
                    col("AccessToken", "accessToken"),
                    col("ExpiresOn", "expiresOn"),
                    col("Subscription", "subscription"),
                    col("Tenant", "tenant"),
                    col("TokenType", "tokenType"),
                ],
            )))
        }
    }
}

/// az's `expiresOn`: `YYYY-MM-DD HH:MM:SS.ffffff` (az prints local time;
/// acrylic prints UTC).
fn expires_on_text(epoch: i64) -> String {
    let f = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]"
    );
    OffsetDateTime::from_unix_timestamp(epoch)
        .ok()
        .and_then(|t| t.format(f).ok())
        .unwrap_or_default()
}

/// The user an id token names (`upn`, else `preferred_username`). Only
/// read for display: the CLI trusts the TLS connection it came over.
fn id_token_user(jwt: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("upn")
        .or_else(|| v.get("preferred_username"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Subscription {
    subscription_id: String,
    tenant_id: String,
    display_name: String,
    state: String,
}

#[derive(Debug, Deserialize)]
struct SubscriptionList {
    value: Vec<Subscription>,
}

async fn list_subscriptions(s: &Session) -> Result<Vec<Subscription>> {
    let v = s
        .client
        .arm(
            &s.token,
            Method::GET,
            "/subscriptions",
            &[("api-version", SUBSCRIPTIONS_API_VERSION)],
            None,
        )
        .await?
        .unwrap_or(Value::Null);
    let list: SubscriptionList =
        serde_json::from_value(v).context("the subscription list is not in ARM's shape")?;
    Ok(list.value)
}

/// az's account shape (`az account show`, the list `az login` prints).
fn account_json(s: &Subscription, session: &Session, is_default: bool) -> Value {
    json!({
        "environmentName": "acrylic",
        "homeTenantId": session.tenant_id,
        "id": s.subscription_id,
        "isDefault": is_default,
        "managedByTenants": [],
        "name": s.display_name,
        "state": s.state,
        "tenantId": s.tenant_id,
        "user": {"name": session.user, "type": "user"},
    })
}

fn account_columns() -> Vec<crate::output::Column> {
    vec![
        col("Name", "name"),
        col("SubscriptionId", "id"),
        col("TenantId", "tenantId"),
        col("State", "state"),
        col("IsDefault", "isDefault"),
        col("User", "user/name"),
    ]
}

/// `client_info` is base64url JSON `{"uid": oid, "utid": tid}` (spec §5.1).
fn client_info_tenant(ci: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(ci.trim_end_matches('='))
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("utid")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_tokens_and_expiry_texts() {
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"upn":"bob@acrylic.local","tid":"t"}"#);
        assert_eq!(
            id_token_user(&format!("h.{claims}.s")).as_deref(),
            Some("bob@acrylic.local")
        );
        assert_eq!(id_token_user("garbage"), None);
        assert_eq!(expires_on_text(0), "1970-01-01 00:00:00.000000");
    }

    #[test]
    fn client_info_yields_the_tenant() {
        let ci =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"uid":"u","utid":"t-1"}"#);
        assert_eq!(client_info_tenant(&ci).as_deref(), Some("t-1"));
        assert_eq!(client_info_tenant("not base64!"), None);
    }
}
