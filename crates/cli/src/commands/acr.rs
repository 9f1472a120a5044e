//! `acrylic acr …` — az's `acr` commands over the ARM control plane
//! (spec §6.7): create, list, show, update, delete, credential show/renew,
//! and acrylic's audit log.
//!
//! A registry is found by `--resource-group` when given; otherwise by name
//! in the subscription (as az does), falling back to the profile's resource
//! group so the server's own error (not found, not authorized) is shown.

use std::io::IsTerminal;

use anyhow::{Context as _, Result};
use reqwest::Method;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::{Context, Session};
use crate::client::CliError;
use crate::output::{Column, Output, col, computed};

const PROVIDER: &str = "providers/Microsoft.ContainerRegistry";

#[derive(Debug, clap::Subcommand)]
pub enum AcrCommand {
    /// Log in to a registry: exchange the directory sign-in for a registry
    /// refresh token and store it for docker, podman and skopeo.
    Login(super::acr_login::LoginArgs),
    /// Create a registry.
    Create {
        #[command(flatten)]
        reg: RegistryArgs,
        /// Pricing tier.
        #[arg(long, value_enum, default_value = "Basic")]
        sku: Sku,
        /// Location (default: the resource group's).
        #[arg(short, long)]
        location: Option<String>,
        /// Enable the admin user.
        #[arg(long)]
        admin_enabled: bool,
    },
    /// List registries (of the resource group, or of the whole subscription).
    List {
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
    },
    /// Show a registry.
    Show {
        #[command(flatten)]
        reg: RegistryArgs,
    },
    /// Update a registry's settings.
    Update {
        #[command(flatten)]
        reg: RegistryArgs,
        /// Enable or disable the admin user.
        #[arg(long, value_name = "true|false")]
        admin_enabled: Option<bool>,
        /// Allow anonymous (unauthenticated) pull.
        #[arg(long, value_name = "true|false")]
        anonymous_pull_enabled: Option<bool>,
        /// `rbac` ("RBAC Registry Permissions") or `rbac-abac` ("RBAC
        /// Registry + ABAC Repository Permissions"). Switching invalidates
        /// registry credentials issued under the other mode.
        #[arg(long, value_enum)]
        role_assignment_mode: Option<RoleAssignmentMode>,
    },
    /// Delete a registry and everything in it.
    Delete {
        #[command(flatten)]
        reg: RegistryArgs,
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        yes: bool,
    },
    /// The admin user's credentials.
    Credential {
        #[command(subcommand)]
        command: CredentialCommand,
    },
    /// Manage the repositories, tags and manifests of a registry (its data
    /// plane), like `az acr repository`.
    Repository {
        #[command(subcommand)]
        command: super::repository::RepositoryCommand,
    },
    /// The registry's audit log (token issuance, push, delete).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Manage scope maps: the repository permissions of tokens (like `az
    /// acr scope-map`).
    ScopeMap {
        #[command(subcommand)]
        command: super::scope_map::ScopeMapCommand,
    },
    /// Manage repository-scoped tokens and their passwords (like `az acr
    /// token`).
    Token {
        #[command(subcommand)]
        command: super::token::TokenCommand,
    },
    /// Kubernetes image pull secrets for a registry.
    PullSecret {
        #[command(subcommand)]
        command: super::pull_secret::PullSecretCommand,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum CredentialCommand {
    /// Show the admin username and both passwords.
    Show {
        #[command(flatten)]
        reg: RegistryArgs,
    },
    /// Regenerate one admin password.
    Renew {
        #[command(flatten)]
        reg: RegistryArgs,
        #[arg(long, value_enum)]
        password_name: PasswordName,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// List audit records, newest first.
    List {
        #[command(flatten)]
        reg: RegistryArgs,
        /// Only this principal, e.g. `admin` or `user:owner@acrylic.local`.
        #[arg(long)]
        principal: Option<String>,
        /// Only this action, e.g. `token`, `push`, `delete`.
        #[arg(long)]
        action: Option<String>,
        #[arg(long)]
        repository: Option<String>,
        /// RFC 3339 time, or an age such as `30m`, `2h`, `7d`.
        #[arg(long)]
        since: Option<String>,
        /// At most this many records.
        #[arg(long)]
        top: Option<u32>,
    },
}

#[derive(Debug, clap::Args)]
pub struct RegistryArgs {
    /// The registry's name.
    #[arg(short, long)]
    pub(crate) name: String,
    /// Resource group (default: found by name, else the profile's).
    #[arg(short = 'g', long)]
    pub(crate) resource_group: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Sku {
    #[value(name = "Basic")]
    Basic,
    #[value(name = "Standard")]
    Standard,
    #[value(name = "Premium")]
    Premium,
}

impl Sku {
    fn as_str(self) -> &'static str {
        match self {
            Sku::Basic => "Basic",
            Sku::Standard => "Standard",
            Sku::Premium => "Premium",
        }
    }
}

/// `az acr update --role-assignment-mode` (spec §6.1).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RoleAssignmentMode {
    #[value(name = "rbac")]
    Rbac,
    #[value(name = "rbac-abac")]
    RbacAbac,
}

impl RoleAssignmentMode {
    fn as_arm(self) -> &'static str {
        match self {
            RoleAssignmentMode::Rbac => "LegacyRegistryPermissions",
            RoleAssignmentMode::RbacAbac => "AbacRepositoryPermissions",
        }
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PasswordName {
    #[value(name = "password")]
    Password,
    #[value(name = "password2")]
    Password2,
}

pub async fn run(ctx: &Context, cmd: AcrCommand) -> Result<Option<Output>> {
    // `acr login` may run without a sign-in (a login server and a password).
    if let AcrCommand::Login(args) = cmd {
        return super::acr_login::run(ctx, args).await;
    }
    // Neither may `acr repository` (a login server and --username/--password).
    if let AcrCommand::Repository { command } = cmd {
        return super::repository::run(ctx, command).await;
    }
    // Scope maps, tokens and pull secrets (#4) find their own sign-in (a
    // pull secret for a login server needs none).
    match cmd {
        AcrCommand::ScopeMap { command } => return super::scope_map::run(ctx, command).await,
        AcrCommand::Token { command } => return super::token::run(ctx, command).await,
        AcrCommand::PullSecret { command } => {
            return super::pull_secret::run(ctx, command).await;
        }
        _ => {}
    }
    let s = ctx.session()?;
    match cmd {
        AcrCommand::Login(args) => super::acr_login::run(ctx, args).await,
        AcrCommand::Repository { command } => super::repository::run(ctx, command).await,
        AcrCommand::ScopeMap { command } => super::scope_map::run(ctx, command).await,
        AcrCommand::Token { command } => super::token::run(ctx, command).await,
        AcrCommand::PullSecret { command } => super::pull_secret::run(ctx, command).await,
        AcrCommand::Create {
            reg,
            sku,
            location,
            admin_enabled,
        } => create(&s, reg, sku, location, admin_enabled).await,
        AcrCommand::List { resource_group } => {
            let sub = s.subscription()?;
            let path = match resource_group {
                Some(rg) => {
                    format!("/subscriptions/{sub}/resourceGroups/{rg}/{PROVIDER}/registries")
                }
                None => format!("/subscriptions/{sub}/{PROVIDER}/registries"),
            };
            let v = s
                .arm(Method::GET, &path, None)
                .await?
                .unwrap_or(Value::Null);
            let list = v.get("value").cloned().unwrap_or(Value::Array(vec![]));
            Ok(Some(Output::new(list, registry_columns())))
        }
        AcrCommand::Show { reg } => {
            let path = resolve(&s, &reg).await?;
            let v = s
                .arm(Method::GET, &path, None)
                .await?
                .unwrap_or(Value::Null);
            Ok(Some(Output::new(v, registry_columns())))
        }
        AcrCommand::Update {
            reg,
            admin_enabled,
            anonymous_pull_enabled,
            role_assignment_mode,
        } => {
            let mut props = serde_json::Map::new();
            if let Some(m) = role_assignment_mode {
                props.insert("roleAssignmentMode".into(), Value::from(m.as_arm()));
            }
            if let Some(a) = admin_enabled {
                props.insert("adminUserEnabled".into(), Value::Bool(a));
            }
            if let Some(a) = anonymous_pull_enabled {
                props.insert("anonymousPullEnabled".into(), Value::Bool(a));
            }
            if props.is_empty() {
                return Err(CliError::Usage(
                    "nothing to update: pass --admin-enabled true|false, --anonymous-pull-enabled true|false \
                     or --role-assignment-mode rbac|rbac-abac"
                        .into(),
                )
                .into());
            }
            let path = resolve(&s, &reg).await?;
            let body = json!({ "properties": props });
            let v = s
                .arm(Method::PATCH, &path, Some(&body))
                .await?
                .unwrap_or(Value::Null);
            Ok(Some(Output::new(v, registry_columns())))
        }
        AcrCommand::Delete { reg, yes } => {
            if !yes {
                confirm(&format!(
                    "Are you sure you want to delete the registry '{}'?",
                    reg.name
                ))?;
            }
            let path = resolve(&s, &reg).await?;
            s.arm(Method::DELETE, &path, None).await?;
            Ok(None)
        }
        AcrCommand::Credential {
            command: CredentialCommand::Show { reg },
        } => {
            let path = format!("{}/listCredentials", resolve(&s, &reg).await?);
            let v = s
                .arm(Method::POST, &path, None)
                .await
                .map_err(|e| admin_hint(e, &reg.name))?;
            Ok(Some(Output::new(
                v.unwrap_or(Value::Null),
                credential_columns(),
            )))
        }
        AcrCommand::Credential {
            command: CredentialCommand::Renew { reg, password_name },
        } => {
            let path = format!("{}/regenerateCredential", resolve(&s, &reg).await?);
            let name = match password_name {
                PasswordName::Password => "password",
                PasswordName::Password2 => "password2",
            };
            let body = json!({ "name": name });
            let v = s
                .arm(Method::POST, &path, Some(&body))
                .await
                .map_err(|e| admin_hint(e, &reg.name))?;
            Ok(Some(Output::new(
                v.unwrap_or(Value::Null),
                credential_columns(),
            )))
        }
        AcrCommand::Audit {
            command:
                AuditCommand::List {
                    reg,
                    principal,
                    action,
                    repository,
                    since,
                    top,
                },
        } => {
            let path = format!("{}/auditLogs", resolve(&s, &reg).await?);
            let since = since.map(|x| parse_since(&x)).transpose()?;
            let top = top.map(|t| t.to_string());
            let mut q: Vec<(&str, &str)> = Vec::new();
            for (k, v) in [
                ("principal", principal.as_deref()),
                ("action", action.as_deref()),
                ("repository", repository.as_deref()),
                ("since", since.as_deref()),
                ("top", top.as_deref()),
            ] {
                if let Some(v) = v {
                    q.push((k, v));
                }
            }
            let v = s
                .arm_query(Method::GET, &path, &q, None)
                .await?
                .unwrap_or(Value::Null);
            let list = v.get("value").cloned().unwrap_or(Value::Array(vec![]));
            Ok(Some(Output::new(list, audit_columns())))
        }
    }
}

async fn create(
    s: &Session,
    reg: RegistryArgs,
    sku: Sku,
    location: Option<String>,
    admin_enabled: bool,
) -> Result<Option<Output>> {
    let sub = s.subscription()?.to_owned();
    let rg = reg
        .resource_group
        .or_else(|| s.profile.resource_group.clone())
        .ok_or_else(|| CliError::Usage("pass --resource-group (the profile names none)".into()))?;
    // az checks the name first, so a taken name fails before anything else.
    let check = s
        .arm(
            Method::POST,
            &format!("/subscriptions/{sub}/{PROVIDER}/checkNameAvailability"),
            Some(&json!({"name": reg.name, "type": "Microsoft.ContainerRegistry/registries"})),
        )
        .await?
        .unwrap_or(Value::Null);
    if check.get("nameAvailable") == Some(&Value::Bool(false)) {
        let msg = check
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("the registry name is not available");
        return Err(CliError::Usage(msg.to_owned()).into());
    }
    let location = match location {
        Some(l) => l,
        None => {
            let g = s
                .client
                .arm(
                    &s.token,
                    Method::GET,
                    &format!("/subscriptions/{sub}/resourceGroups/{rg}"),
                    &[("api-version", "2022-09-01")],
                    None,
                )
                .await?
                .unwrap_or(Value::Null);
            g.get("location")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    CliError::Usage(format!(
                        "resource group {rg} has no location: pass --location"
                    ))
                })?
        }
    };
    let body = json!({
        "location": location,
        "sku": {"name": sku.as_str()},
        "properties": {"adminUserEnabled": admin_enabled},
    });
    let path = format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/{PROVIDER}/registries/{}",
        reg.name
    );
    let v = s
        .arm(Method::PUT, &path, Some(&body))
        .await?
        .unwrap_or(Value::Null);
    Ok(Some(Output::new(v, registry_columns())))
}

/// The registry's resource path.
pub(crate) async fn resolve(s: &Session, reg: &RegistryArgs) -> Result<String> {
    let sub = s.subscription()?;
    if let Some(rg) = &reg.resource_group {
        return Ok(format!(
            "/subscriptions/{sub}/resourceGroups/{rg}/{PROVIDER}/registries/{}",
            reg.name
        ));
    }
    let v = s
        .arm(
            Method::GET,
            &format!("/subscriptions/{sub}/{PROVIDER}/registries"),
            None,
        )
        .await?
        .unwrap_or(Value::Null);
    let found = v
        .get("value")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|r| {
            r.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(&reg.name))
        })
        .and_then(|r| r.get("id").and_then(Value::as_str));
    if let Some(id) = found {
        return Ok(id.to_owned());
    }
    match &s.profile.resource_group {
        Some(rg) => Ok(format!("/subscriptions/{sub}/resourceGroups/{rg}/{PROVIDER}/registries/{}", reg.name)),
        None => Err(CliError::Usage(format!(
            "the registry '{}' was not found in subscription {sub}. Run `acrylic acr list` to see the registries you can use",
            reg.name
        ))
        .into()),
    }
}

/// az's advice when the admin user is off (spec §6.5).
fn admin_hint(e: anyhow::Error, name: &str) -> anyhow::Error {
    match e.downcast_ref::<CliError>() {
        Some(CliError::Arm { code, .. }) if code == "AdminUserDisabled" => {
            CliError::Usage(format!(
                "the admin user of registry '{name}' is disabled. \
             Run 'acrylic acr update -n {name} --admin-enabled true' to enable admin first."
            ))
            .into()
        }
        _ => e,
    }
}

pub(crate) fn confirm(question: &str) -> Result<()> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(
            "cannot prompt for confirmation (no terminal): pass --yes".into(),
        )
        .into());
    }
    if dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()?
    {
        Ok(())
    } else {
        Err(CliError::Usage("cancelled".into()).into())
    }
}

/// `--since`: RFC 3339, or an age (`45s`, `30m`, `2h`, `7d`).
fn parse_since(s: &str) -> Result<String> {
    if OffsetDateTime::parse(s, &Rfc3339).is_ok() {
        return Ok(s.to_owned());
    }
    let bad = || {
        CliError::Usage(format!(
            "--since {s:?}: use an RFC 3339 time or an age such as 30m, 2h, 7d"
        ))
    };
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = num.parse().map_err(|_| bad())?;
    let age = match unit {
        "s" => Duration::seconds(n),
        "m" => Duration::minutes(n),
        "h" => Duration::hours(n),
        "d" => Duration::days(n),
        _ => return Err(bad().into()),
    };
    (OffsetDateTime::now_utc() - age)
        .format(&Rfc3339)
        .context("formatting --since")
}

fn resource_group_of(row: &Value) -> String {
    let id = row.get("id").and_then(Value::as_str).unwrap_or_default();
    let mut parts = id.split('/');
    while let Some(p) = parts.next() {
        if p.eq_ignore_ascii_case("resourceGroups") {
            return parts.next().unwrap_or_default().to_owned();
        }
    }
    String::new()
}

/// `az acr list -o table` columns.
fn registry_columns() -> Vec<Column> {
    vec![
        col("NAME", "name"),
        computed("RESOURCE GROUP", resource_group_of),
        col("LOCATION", "location"),
        col("SKU", "sku/name"),
        col("LOGIN SERVER", "properties/loginServer"),
        col("CREATION DATE", "properties/creationDate"),
        col("ADMIN ENABLED", "properties/adminUserEnabled"),
    ]
}

/// `az acr credential show -o table` columns.
fn credential_columns() -> Vec<Column> {
    vec![
        col("USERNAME", "username"),
        col("PASSWORD", "passwords/0/value"),
        col("PASSWORD2", "passwords/1/value"),
    ]
}

fn audit_columns() -> Vec<Column> {
    vec![
        col("TIME", "time"),
        col("PRINCIPAL", "principal"),
        col("ACTION", "action"),
        col("REPOSITORY", "repository"),
        col("DECISION", "decision"),
        col("CLIENT", "clientAddress"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_times_and_ages() {
        assert_eq!(
            parse_since("2026-01-02T03:04:05Z").ok().as_deref(),
            Some("2026-01-02T03:04:05Z")
        );
        let two_hours = parse_since("2h")
            .ok()
            .and_then(|s| OffsetDateTime::parse(&s, &Rfc3339).ok());
        let age = two_hours.map(|t| OffsetDateTime::now_utc() - t);
        assert!(age.is_some_and(
            |a| a >= Duration::hours(2) && a < Duration::hours(2) + Duration::minutes(1)
        ));
        for bad in ["", "h", "2w", "yesterday"] {
            assert!(parse_since(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn resource_group_from_id() {
        let row = json!({"id": "/subscriptions/s/resourceGroups/my-rg/providers/Microsoft.ContainerRegistry/registries/r"});
        assert_eq!(resource_group_of(&row), "my-rg");
        assert_eq!(resource_group_of(&json!({})), "");
    }
}
