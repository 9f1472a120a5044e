//! `acrylic login --identity [--client-id|--object-id|--resource-id]`
//! (issue #5 §2): inside a workload, the sign-in is a managed identity's,
//! and every token comes from the local identity agent instead of a
//! password — az's `az login --identity`.
//!
//! The agent is found as azure-identity's `ManagedIdentityCredential`
//! finds it (clients.md "Managed identity, as ManagedIdentityCredential
//! picks it", acr-auth.md §5.4): an explicit `--agent-url` (IMDS), else
//! `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` (App Service), else
//! `AZURE_POD_IDENTITY_AUTHORITY_HOST` (IMDS). With none of them the SDK
//! would try `http://169.254.169.254`, where acrylic's agent never listens
//! (it serves loopback only), so that is a clear error instead. What was
//! found is kept in `tokens.json` ([`ManagedIdentityLogin`]), so later
//! commands — `acrylic acr login`, `docker-credential-acrylic get` — ask the
//! same agent for a token of the audience they need
//! ([`managed_identity_token`]).

use std::time::Duration;

use anyhow::{Context as _, Result};
use serde_json::Value;
use time::OffsetDateTime;

use crate::client::CliError;
use crate::profile::{AgentProtocol, ManagedIdentityLogin};

/// IMDS's token path below the agent's base URL.
const IMDS_PATH: &str = "/metadata/identity/oauth2/token";

/// The identity `--client-id`, `--object-id` or `--resource-id` names.
#[derive(Debug, Default, Clone)]
pub struct Selector {
    pub client_id: Option<String>,
    pub object_id: Option<String>,
    pub resource_id: Option<String>,
}

/// Which agent to ask, as the SDK picks it: `agent_url` (IMDS) first, then
/// the App Service variables, then `AZURE_POD_IDENTITY_AUTHORITY_HOST`.
pub fn find_agent(agent_url: Option<String>, who: Selector) -> Result<ManagedIdentityLogin> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let (protocol, endpoint, header) = match (
        agent_url,
        env("IDENTITY_ENDPOINT"),
        env("IDENTITY_HEADER"),
        env("AZURE_POD_IDENTITY_AUTHORITY_HOST"),
    ) {
        (Some(url), ..) => (AgentProtocol::Imds, url, None),
        (None, Some(endpoint), Some(header), _) => {
            (AgentProtocol::AppService, endpoint, Some(header))
        }
        (None, _, _, Some(host)) => (AgentProtocol::Imds, host, None),
        _ => {
            return Err(CliError::Usage(
                "no identity agent found: set IDENTITY_ENDPOINT and IDENTITY_HEADER, or \
                 AZURE_POD_IDENTITY_AUTHORITY_HOST, as `acrylic identity-agent` prints them, or \
                 pass --agent-url"
                    .into(),
            )
            .into());
        }
    };
    Ok(ManagedIdentityLogin {
        protocol,
        endpoint: endpoint.trim_end_matches('/').to_owned(),
        header,
        client_id: who.client_id,
        object_id: who.object_id,
        resource_id: who.resource_id,
    })
}

/// A token from the agent for `resource` (an audience URI such as
/// `https://management.core.windows.net/`).
pub struct AgentToken {
    pub access_token: String,
    /// Unix seconds.
    pub expires_on: i64,
}

/// Asks the agent for a token of `resource` as the sign-in's identity.
pub async fn managed_identity_token(
    login: &ManagedIdentityLogin,
    resource: &str,
) -> Result<AgentToken> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")?;
    let mut query: Vec<(&str, &str)> = vec![("resource", resource)];
    let request = match login.protocol {
        AgentProtocol::Imds => {
            query.push(("api-version", "2018-02-01"));
            push_selector(&mut query, login, "msi_res_id");
            http.get(format!("{}{IMDS_PATH}", login.endpoint))
                .header("Metadata", "true")
        }
        AgentProtocol::AppService => {
            query.push(("api-version", "2019-08-01"));
            push_selector(&mut query, login, "mi_res_id");
            http.get(&login.endpoint)
                .header("X-IDENTITY-HEADER", login.header.as_deref().unwrap_or(""))
        }
    };
    let resp = request.query(&query).send().await.map_err(|e| {
        CliError::Usage(format!(
            "the identity agent at {} is unreachable: {}",
            login.endpoint,
            super::acr_login::chain(&e)
        ))
    })?;
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .with_context(|| format!("the identity agent at {} answered no JSON", login.endpoint))?;
    let token = body["access_token"]
        .as_str()
        .filter(|_| status.is_success());
    let Some(token) = token else {
        return Err(CliError::SignIn(format!(
            "the identity agent refused a token for {resource} ({}): {}",
            status.as_u16(),
            body["error_description"]
                .as_str()
                .or(body["error"].as_str())
                .unwrap_or("no reason given")
        ))
        .into());
    };
    // Both protocols send `expires_on` as a string of Unix seconds.
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let expires_on = match &body["expires_on"] {
        Value::String(s) => s.parse().ok(),
        v => v.as_i64(),
    }
    .unwrap_or(now + 300);
    Ok(AgentToken {
        access_token: token.to_owned(),
        expires_on,
    })
}

fn push_selector<'a>(
    query: &mut Vec<(&'a str, &'a str)>,
    login: &'a ManagedIdentityLogin,
    resource_id_name: &'a str,
) {
    if let Some(c) = &login.client_id {
        query.push(("client_id", c));
    } else if let Some(o) = &login.object_id {
        query.push(("object_id", o));
    } else if let Some(r) = &login.resource_id {
        query.push((resource_id_name, r));
    }
}

/// The name az shows for the sign-in: `systemAssignedIdentity` or
/// `userAssignedIdentity`, and its `assignedIdentityInfo`.
pub fn account_names(login: &ManagedIdentityLogin) -> (&'static str, String) {
    match (&login.client_id, &login.object_id, &login.resource_id) {
        (Some(c), _, _) => ("userAssignedIdentity", format!("MSIClient-{c}")),
        (_, Some(o), _) => ("userAssignedIdentity", format!("MSIObject-{o}")),
        (_, _, Some(r)) => ("userAssignedIdentity", format!("MSIResource-{r}")),
        _ => ("systemAssignedIdentity", "MSI".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names_follow_az() {
        let mut login = ManagedIdentityLogin {
            protocol: AgentProtocol::Imds,
            endpoint: "http://127.0.0.1:1".into(),
            header: None,
            client_id: None,
            object_id: None,
            resource_id: None,
        };
        assert_eq!(account_names(&login).0, "systemAssignedIdentity");
        login.client_id = Some("c-1".into());
        assert_eq!(
            account_names(&login),
            ("userAssignedIdentity", "MSIClient-c-1".to_owned())
        );
    }
}
