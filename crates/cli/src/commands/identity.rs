//! `acrylic identity create|list|show|delete` — az's `identity` commands:
//! user-assigned managed identities (`Microsoft.ManagedIdentity/
//! userAssignedIdentities`, issue #5 §1) over the ARM control plane.
//!
//! Output is az's shape: the resource with `properties` flattened
//! (`clientId`, `principalId`, `tenantId`) and `resourceGroup` taken from
//! the id.

use anyhow::Result;
use reqwest::Method;
use serde_json::{Value, json};

use super::{Context, Session};
use crate::client::CliError;
use crate::output::{Column, Output, col, computed};

pub const PROVIDER: &str = "providers/Microsoft.ManagedIdentity/userAssignedIdentities";

#[derive(Debug, clap::Subcommand)]
pub enum IdentityCommand {
    /// Create a user-assigned identity (its principal id and client id are
    /// fixed for its life).
    Create {
        #[arg(short, long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: String,
        /// Location (default: the resource group's).
        #[arg(short, long)]
        location: Option<String>,
    },
    /// List user-assigned identities, of one resource group or of the
    /// subscription.
    List {
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
    },
    /// Show a user-assigned identity.
    Show {
        #[arg(short, long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: String,
    },
    /// Delete a user-assigned identity: it is detached from every resource
    /// and loses its role assignments.
    Delete {
        #[arg(short, long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: String,
    },
}

/// The ARM id of identity `name` in `rg`.
pub fn identity_id(s: &Session, rg: &str, name: &str) -> Result<String> {
    Ok(format!(
        "/subscriptions/{}/resourceGroups/{rg}/{PROVIDER}/{name}",
        s.subscription()?
    ))
}

pub async fn run(ctx: &Context, cmd: IdentityCommand) -> Result<Option<Output>> {
    let s = ctx.session()?;
    match cmd {
        IdentityCommand::Create {
            name,
            resource_group,
            location,
        } => {
            let location = match location {
                Some(l) => l,
                None => resource_group_location(&s, &resource_group).await?,
            };
            let v = s
                .arm(
                    Method::PUT,
                    &identity_id(&s, &resource_group, &name)?,
                    Some(&json!({ "location": location })),
                )
                .await?
                .unwrap_or(Value::Null);
            Ok(Some(Output::new(flatten(v), columns())))
        }
        IdentityCommand::List { resource_group } => {
            let sub = s.subscription()?;
            let path = match &resource_group {
                Some(rg) => format!("/subscriptions/{sub}/resourceGroups/{rg}/{PROVIDER}"),
                None => format!("/subscriptions/{sub}/{PROVIDER}"),
            };
            let v = s
                .arm(Method::GET, &path, None)
                .await?
                .unwrap_or(Value::Null);
            let items: Vec<Value> = v
                .get("value")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(flatten)
                .collect();
            Ok(Some(Output::new(Value::Array(items), columns())))
        }
        IdentityCommand::Show {
            name,
            resource_group,
        } => {
            let v = s
                .arm(Method::GET, &identity_id(&s, &resource_group, &name)?, None)
                .await?
                .unwrap_or(Value::Null);
            Ok(Some(Output::new(flatten(v), columns())))
        }
        IdentityCommand::Delete {
            name,
            resource_group,
        } => {
            s.arm(
                Method::DELETE,
                &identity_id(&s, &resource_group, &name)?,
                None,
            )
            .await?;
            Ok(None)
        }
    }
}

/// A resource group's location (the default for new resources).
pub async fn resource_group_location(s: &Session, rg: &str) -> Result<String> {
    let g = s
        .client
        .arm(
            &s.token,
            Method::GET,
            &format!("/subscriptions/{}/resourceGroups/{rg}", s.subscription()?),
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
            .into()
        })
}

/// az's shape: `properties` flattened, `resourceGroup` from the id.
fn flatten(v: Value) -> Value {
    let Value::Object(mut m) = v else {
        return v;
    };
    if let Some(Value::Object(p)) = m.remove("properties") {
        for (k, v) in p {
            m.insert(k, v);
        }
    }
    let rg = resource_group_of(&Value::Object(m.clone()));
    m.insert("resourceGroup".into(), Value::String(rg));
    Value::Object(m)
}

pub fn resource_group_of(row: &Value) -> String {
    let id = row.get("id").and_then(Value::as_str).unwrap_or_default();
    let mut parts = id.split('/');
    while let Some(p) = parts.next() {
        if p.eq_ignore_ascii_case("resourceGroups") {
            return parts.next().unwrap_or_default().to_owned();
        }
    }
    String::new()
}

fn columns() -> Vec<Column> {
    vec![
        col("Name", "name"),
        computed("ResourceGroup", resource_group_of),
        col("Location", "location"),
        col("ClientId", "clientId"),
        col("PrincipalId", "principalId"),
    ]
}
