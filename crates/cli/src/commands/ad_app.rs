//! `acrylic ad app …` — az's `ad app create|update|delete|show|list` and
//! `ad app federated-credential create|list|show|delete`, over the
//! directory's Graph-shaped `/v1.0/applications` (#4). `--id` takes the
//! application's `appId` or object id, as az does. The server decides who
//! may manage applications (directory roles at scope `/`); its refusals
//! name the missing permission.

use anyhow::{Context as _, Result};
use reqwest::Method;
use serde_json::{Value, json};

use super::Session;
use super::ad::{clean, quote, values};
use crate::client::CliError;
use crate::output::{Column, Output, col};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SignInAudience {
    /// Only the home tenant.
    #[value(name = "AzureADMyOrg")]
    AzureAdMyOrg,
    /// Any tenant that provisions the app (`acrylic ad sp create --id`).
    #[value(name = "AzureADMultipleOrgs")]
    AzureAdMultipleOrgs,
}

impl SignInAudience {
    fn as_str(self) -> &'static str {
        match self {
            SignInAudience::AzureAdMyOrg => "AzureADMyOrg",
            SignInAudience::AzureAdMultipleOrgs => "AzureADMultipleOrgs",
        }
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum AppCommand {
    /// Register an application.
    Create {
        #[arg(long)]
        display_name: String,
        #[arg(long, value_enum)]
        sign_in_audience: Option<SignInAudience>,
    },
    /// Change an application's display name or sign-in audience.
    Update {
        /// appId or object id.
        #[arg(long)]
        id: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long, value_enum)]
        sign_in_audience: Option<SignInAudience>,
    },
    /// Delete an application, its credentials and its service principals
    /// (with their role assignments).
    Delete {
        #[arg(long)]
        id: String,
    },
    /// Show an application.
    Show {
        #[arg(long)]
        id: String,
    },
    /// List applications.
    List {
        /// Only applications whose display name starts with this.
        #[arg(long)]
        display_name: Option<String>,
        /// Only the application with this appId.
        #[arg(long)]
        app_id: Option<String>,
    },
    /// Manage federated identity credentials (external OIDC tokens that
    /// sign the application in).
    FederatedCredential {
        #[command(subcommand)]
        command: FederatedCommand,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum FederatedCommand {
    /// Add a federated identity credential.
    Create {
        /// The application's appId or object id.
        #[arg(long)]
        id: String,
        /// JSON (or `@file`) with `name`, `issuer`, `subject` and optionally
        /// `audiences` and `description`, as az takes it.
        #[arg(long, conflicts_with_all = ["name", "issuer", "subject"])]
        parameters: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// The external issuer (https; http only on a loopback host).
        #[arg(long)]
        issuer: Option<String>,
        /// The token subject to accept, exactly.
        #[arg(long)]
        subject: Option<String>,
        /// Default: `api://AzureADTokenExchange`.
        #[arg(long)]
        audience: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// List an application's federated identity credentials.
    List {
        #[arg(long)]
        id: String,
    },
    /// Show one, by id or name.
    Show {
        #[arg(long)]
        id: String,
        #[arg(long)]
        federated_credential_id: String,
    },
    /// Delete one, by id or name.
    Delete {
        #[arg(long)]
        id: String,
        #[arg(long)]
        federated_credential_id: String,
    },
}

pub async fn run(s: &Session, cmd: AppCommand) -> Result<Option<Output>> {
    match cmd {
        AppCommand::Create {
            display_name,
            sign_in_audience,
        } => {
            let mut body = json!({"displayName": display_name});
            if let (Some(a), Some(o)) = (sign_in_audience, body.as_object_mut()) {
                o.insert("signInAudience".into(), json!(a.as_str()));
            }
            let v = s
                .graph(Method::POST, "/v1.0/applications", &[], Some(&body))
                .await?;
            Ok(Some(Output::new(clean(v), app_columns())))
        }
        AppCommand::Update {
            id,
            display_name,
            sign_in_audience,
        } => {
            let mut patch = serde_json::Map::new();
            if let Some(n) = display_name {
                patch.insert("displayName".into(), json!(n));
            }
            if let Some(a) = sign_in_audience {
                patch.insert("signInAudience".into(), json!(a.as_str()));
            }
            if patch.is_empty() {
                return Err(CliError::Usage(
                    "nothing to update: pass --display-name or --sign-in-audience".into(),
                )
                .into());
            }
            s.graph(
                Method::PATCH,
                &app_path(&id),
                &[],
                Some(&Value::Object(patch)),
            )
            .await?;
            Ok(None)
        }
        AppCommand::Delete { id } => {
            s.graph(Method::DELETE, &app_path(&id), &[], None).await?;
            Ok(None)
        }
        AppCommand::Show { id } => {
            let v = s.graph(Method::GET, &app_path(&id), &[], None).await?;
            Ok(Some(Output::new(clean(v), app_columns())))
        }
        AppCommand::List {
            display_name,
            app_id,
        } => {
            let filter = match (app_id, display_name) {
                (Some(a), _) => Some(format!("appId eq '{}'", quote(&a))),
                (None, Some(d)) => Some(format!("startswith(displayName,'{}')", quote(&d))),
                (None, None) => None,
            };
            let query: Vec<(&str, &str)> = filter
                .as_deref()
                .map(|f| vec![("$filter", f)])
                .unwrap_or_default();
            let v = s
                .graph(Method::GET, "/v1.0/applications", &query, None)
                .await?;
            Ok(Some(Output::new(values(v), app_columns())))
        }
        AppCommand::FederatedCredential { command } => federated(s, command).await,
    }
}

async fn federated(s: &Session, cmd: FederatedCommand) -> Result<Option<Output>> {
    match cmd {
        FederatedCommand::Create {
            id,
            parameters,
            name,
            issuer,
            subject,
            audience,
            description,
        } => {
            let body = match parameters {
                Some(p) => read_json(&p)?,
                None => {
                    let need = |v: Option<String>, flag: &str| {
                        v.ok_or_else(|| CliError::Usage(format!("pass {flag} (or --parameters)")))
                    };
                    let mut body = json!({
                        "name": need(name, "--name")?,
                        "issuer": need(issuer, "--issuer")?,
                        "subject": need(subject, "--subject")?,
                    });
                    if let Some(o) = body.as_object_mut() {
                        if let Some(a) = audience {
                            o.insert("audiences".into(), json!([a]));
                        }
                        if let Some(d) = description {
                            o.insert("description".into(), json!(d));
                        }
                    }
                    body
                }
            };
            let v = s
                .graph(
                    Method::POST,
                    &format!("{}/federatedIdentityCredentials", app_path(&id)),
                    &[],
                    Some(&body),
                )
                .await?;
            Ok(Some(Output::new(clean(v), federated_columns())))
        }
        FederatedCommand::List { id } => {
            let v = s
                .graph(
                    Method::GET,
                    &format!("{}/federatedIdentityCredentials", app_path(&id)),
                    &[],
                    None,
                )
                .await?;
            Ok(Some(Output::new(values(v), federated_columns())))
        }
        FederatedCommand::Show {
            id,
            federated_credential_id,
        } => {
            let v = s
                .graph(
                    Method::GET,
                    &format!(
                        "{}/federatedIdentityCredentials/{federated_credential_id}",
                        app_path(&id)
                    ),
                    &[],
                    None,
                )
                .await?;
            Ok(Some(Output::new(clean(v), federated_columns())))
        }
        FederatedCommand::Delete {
            id,
            federated_credential_id,
        } => {
            s.graph(
                Method::DELETE,
                &format!(
                    "{}/federatedIdentityCredentials/{federated_credential_id}",
                    app_path(&id)
                ),
                &[],
                None,
            )
            .await?;
            Ok(None)
        }
    }
}

fn app_path(id: &str) -> String {
    format!("/v1.0/applications/{}", id.trim())
}

/// A JSON argument, inline or `@file` (az's convention).
fn read_json(arg: &str) -> Result<Value> {
    let text = match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
        None => arg.to_owned(),
    };
    serde_json::from_str(&text).context("--parameters is not valid JSON")
}

fn app_columns() -> Vec<Column> {
    vec![
        col("DisplayName", "displayName"),
        col("Id", "id"),
        col("AppId", "appId"),
        col("SignInAudience", "signInAudience"),
        col("CreatedDateTime", "createdDateTime"),
    ]
}

fn federated_columns() -> Vec<Column> {
    vec![
        col("Name", "name"),
        col("Issuer", "issuer"),
        col("Subject", "subject"),
        col("Id", "id"),
    ]
}
