//! `acrylic login`, `acrylic logout`, `acrylic account show` — az's
//! `login`/`logout`/`account show`, against the acrylic directory.
//!
//! Login is the resource-owner password grant (spec §5.1) for the ARM
//! audience; the access token and its expiry go to `tokens.json` (0600).
//! The tenant id comes from the response's `client_info` (`utid`), so the
//! CLI never has to parse the JWT.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use base64::Engine;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{Context, Session};
use crate::client::{CliError, Client, SUBSCRIPTIONS_API_VERSION};
use crate::output::{Output, col};
use crate::profile::Tokens;

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// User principal name, e.g. `owner@acrylic.local` (default: the
    /// profile's user).
    #[arg(short, long)]
    username: Option<String>,
    /// Read the password from stdin instead of prompting.
    #[arg(long)]
    password_stdin: bool,
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
    let password = if args.password_stdin {
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
            "no terminal to prompt for the password: pass it on stdin with --password-stdin".into(),
        )
        .into());
    };
    let tenant = profile
        .tenant
        .clone()
        .unwrap_or_else(|| "organizations".into());

    let client = Client::new(&server, profile.ca_cert.as_deref())?;
    let resp = client.sign_in(&tenant, &username, &password).await?;
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

pub async fn logout(ctx: &Context) -> Result<Option<Output>> {
    if !ctx.store.remove_tokens()? {
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
    }
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
    fn client_info_yields_the_tenant() {
        let ci =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"uid":"u","utid":"t-1"}"#);
        assert_eq!(client_info_tenant(&ci).as_deref(), Some("t-1"));
        assert_eq!(client_info_tenant("not base64!"), None);
    }
}
