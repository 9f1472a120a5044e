//! `acrylic resource create|list|show|delete` and `acrylic resource
//! identity assign|remove|show`: compute resources that carry managed
//! identities (issue #5 §1) — web apps, function apps, container
//! instances, VMs, and disks (which cannot carry one) — over the ARM
//! control plane, with az's `… identity assign|remove` semantics:
//! `--identities` takes `[system]` and user-assigned identity ids (or names
//! in the resource's group); without it, the system-assigned identity.

use anyhow::{Context as _, Result};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::identity::{identity_id, resource_group_location, resource_group_of};
use super::identity_agent::CredentialFile;
use super::{Context, Session};
use crate::output::{Column, Output, col, computed};

/// `--kind`: acrylic's kinds, their ARM types and `kind` property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Webapp,
    Functionapp,
    Containerinstance,
    Vm,
    Disk,
}

impl Kind {
    pub fn arm_type(self) -> &'static str {
        match self {
            Kind::Webapp | Kind::Functionapp => "Microsoft.Web/sites",
            Kind::Containerinstance => "Microsoft.ContainerInstance/containerGroups",
            Kind::Vm => "Microsoft.Compute/virtualMachines",
            Kind::Disk => "Microsoft.Compute/disks",
        }
    }

    fn arm_kind(self) -> Option<&'static str> {
        match self {
            Kind::Webapp => Some("app"),
            Kind::Functionapp => Some("functionapp"),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Webapp => "webapp",
            Kind::Functionapp => "functionapp",
            Kind::Containerinstance => "containerinstance",
            Kind::Vm => "vm",
            Kind::Disk => "disk",
        }
    }
}

/// Which resource: `--kind`, `--name`, `--resource-group`.
#[derive(Debug, Clone, clap::Args)]
pub struct ResourceRef {
    #[arg(long, value_enum)]
    pub kind: Kind,
    #[arg(short, long)]
    pub name: String,
    #[arg(short = 'g', long)]
    pub resource_group: String,
}

impl ResourceRef {
    pub fn id(&self, s: &Session) -> Result<String> {
        Ok(format!(
            "/subscriptions/{}/resourceGroups/{}/providers/{}/{}",
            s.subscription()?,
            self.resource_group,
            self.kind.arm_type(),
            self.name
        ))
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum ResourceCommand {
    /// Create a compute resource, optionally with a system-assigned identity.
    Create {
        #[command(flatten)]
        resource: ResourceRef,
        /// Location (default: the resource group's).
        #[arg(short, long)]
        location: Option<String>,
        /// Give it a system-assigned managed identity (refused by kinds that
        /// cannot carry one).
        #[arg(long)]
        assign_identity: bool,
        /// Where to write the identity-agent credential the server issues
        /// with the first identity (default: `agent-credentials/<group>-<name>.json`
        /// in the config directory).
        #[arg(long)]
        agent_credential_file: Option<std::path::PathBuf>,
    },
    /// List the compute resources of a resource group.
    List {
        #[arg(short = 'g', long)]
        resource_group: String,
        #[arg(long, value_enum)]
        kind: Option<Kind>,
    },
    /// Show a compute resource and its identities.
    Show {
        #[command(flatten)]
        resource: ResourceRef,
    },
    /// Delete a compute resource (its system-assigned identity goes with it).
    Delete {
        #[command(flatten)]
        resource: ResourceRef,
    },
    /// Issue the resource's identity-agent credential (the previous one
    /// stops working) and write it, with the server's address, to a file
    /// only its owner can read; the secret is never printed.
    AgentCredential {
        #[command(flatten)]
        resource: ResourceRef,
        /// The credential file to write (`acrylic identity-agent
        /// --credential-file`).
        #[arg(long)]
        file: std::path::PathBuf,
    },
    /// Manage the resource's managed identities.
    Identity {
        #[command(subcommand)]
        command: ResourceIdentityCommand,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum ResourceIdentityCommand {
    /// Assign identities: `[system]` and/or user-assigned identity ids or
    /// names (default: `[system]`).
    Assign {
        #[command(flatten)]
        resource: ResourceRef,
        #[arg(long, num_args = 1..)]
        identities: Vec<String>,
        /// Where to write the identity-agent credential the server issues
        /// with the resource's first identity (default: as `resource create`).
        #[arg(long)]
        agent_credential_file: Option<std::path::PathBuf>,
    },
    /// Remove identities (default: `[system]`); a removed system-assigned
    /// identity is deleted.
    Remove {
        #[command(flatten)]
        resource: ResourceRef,
        #[arg(long, num_args = 1..)]
        identities: Vec<String>,
    },
    /// Show the resource's identity block.
    Show {
        #[command(flatten)]
        resource: ResourceRef,
    },
}

const SYSTEM: &str = "[system]";

pub async fn run(ctx: &Context, cmd: ResourceCommand) -> Result<Option<Output>> {
    let s = ctx.session()?;
    match cmd {
        ResourceCommand::Create {
            resource,
            location,
            assign_identity,
            agent_credential_file,
        } => {
            let location = match location {
                Some(l) => l,
                None => resource_group_location(&s, &resource.resource_group).await?,
            };
            let mut body = json!({ "location": location });
            if let Some(k) = resource.kind.arm_kind() {
                body["kind"] = json!(k);
            }
            if assign_identity {
                body["identity"] = json!({"type": "SystemAssigned"});
            }
            let mut v = s
                .arm(Method::PUT, &resource.id(&s)?, Some(&body))
                .await?
                .unwrap_or(Value::Null);
            if let Some(file) = keep_credential(&s, &mut v, &resource, agent_credential_file)? {
                v["agentCredentialFile"] = json!(file);
            }
            Ok(Some(Output::new(shape(v), columns())))
        }
        ResourceCommand::List {
            resource_group,
            kind,
        } => {
            let kinds: Vec<Kind> = match kind {
                Some(k) => vec![k],
                None => vec![Kind::Webapp, Kind::Containerinstance, Kind::Vm, Kind::Disk],
            };
            let mut items = Vec::new();
            for k in kinds {
                let path = format!(
                    "/subscriptions/{}/resourceGroups/{resource_group}/providers/{}",
                    s.subscription()?,
                    k.arm_type()
                );
                let v = s
                    .arm(Method::GET, &path, None)
                    .await?
                    .unwrap_or(Value::Null);
                for item in v
                    .get("value")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
                {
                    let item = shape(item);
                    // Web and function apps share a type; `--kind` picks one.
                    if kind.is_none_or(|k| item["acrylicKind"] == k.name()) {
                        items.push(item);
                    }
                }
            }
            Ok(Some(Output::new(Value::Array(items), columns())))
        }
        ResourceCommand::Show { resource } => {
            let v = s
                .arm(Method::GET, &resource.id(&s)?, None)
                .await?
                .unwrap_or(Value::Null);
            Ok(Some(Output::new(shape(v), columns())))
        }
        ResourceCommand::Delete { resource } => {
            s.arm(Method::DELETE, &resource.id(&s)?, None).await?;
            Ok(None)
        }
        ResourceCommand::AgentCredential { resource, file } => {
            let id = resource.id(&s)?;
            let v = s
                .arm(Method::POST, &format!("{id}/agentCredential"), None)
                .await?
                .unwrap_or(Value::Null);
            let field = |k: &str| v[k].as_str().map(str::to_owned).unwrap_or_default();
            CredentialFile {
                server: s.client.base_url().to_owned(),
                ca_cert: s.profile.ca_cert.clone(),
                tenant_id: field("tenantId"),
                resource_id: field("resourceId"),
                credential: field("credential"),
            }
            .write(&file)?;
            Ok(Some(Output::new(
                json!({"resourceId": field("resourceId"), "credentialFile": file.display().to_string()}),
                vec![
                    col("ResourceId", "resourceId"),
                    col("CredentialFile", "credentialFile"),
                ],
            )))
        }
        ResourceCommand::Identity { command } => identity(&s, command).await,
    }
}

async fn identity(s: &Session, cmd: ResourceIdentityCommand) -> Result<Option<Output>> {
    let mut credential_file = None;
    let (resource, identities, add) = match cmd {
        ResourceIdentityCommand::Show { resource } => {
            let v = s
                .arm(Method::GET, &resource.id(s)?, None)
                .await?
                .unwrap_or(Value::Null);
            return Ok(Some(Output::new(v["identity"].clone(), identity_columns())));
        }
        ResourceIdentityCommand::Assign {
            resource,
            identities,
            agent_credential_file,
        } => {
            credential_file = agent_credential_file;
            (resource, identities, true)
        }
        ResourceIdentityCommand::Remove {
            resource,
            identities,
        } => (resource, identities, false),
    };
    let id = resource.id(s)?;
    let current = s.arm(Method::GET, &id, None).await?.unwrap_or(Value::Null);
    let current_type = current["identity"]["type"].as_str().unwrap_or("None");
    let mut system = current_type.contains("SystemAssigned");
    let current_users: Vec<String> = current["identity"]["userAssignedIdentities"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();

    let wanted = if identities.is_empty() {
        vec![SYSTEM.to_owned()]
    } else {
        identities
    };
    let mut changes = Map::new();
    for w in &wanted {
        if w.eq_ignore_ascii_case(SYSTEM) {
            system = add;
            continue;
        }
        let uid = if w.starts_with('/') {
            w.clone()
        } else {
            identity_id(s, &resource.resource_group, w)?
        };
        changes.insert(uid, if add { json!({}) } else { Value::Null });
    }
    let users_after = current_users
        .iter()
        .filter(|u| {
            !changes
                .iter()
                .any(|(k, v)| v.is_null() && k.eq_ignore_ascii_case(u))
        })
        .count()
        + changes
            .iter()
            .filter(|(k, v)| {
                !v.is_null() && !current_users.iter().any(|u| u.eq_ignore_ascii_case(k))
            })
            .count();
    let user = users_after > 0;
    let kind = match (system, user) {
        (false, false) => "None",
        (true, false) => "SystemAssigned",
        (false, true) => "UserAssigned",
        (true, true) => "SystemAssigned, UserAssigned",
    };
    let mut block = json!({ "type": kind });
    // Without `UserAssigned` in the type every user-assigned identity goes.
    if user && !changes.is_empty() {
        block["userAssignedIdentities"] = Value::Object(changes);
    }
    let mut v = s
        .arm(Method::PATCH, &id, Some(&json!({ "identity": block })))
        .await?
        .unwrap_or(Value::Null);
    let written = keep_credential(s, &mut v, &resource, credential_file)?;
    let mut out = v["identity"].clone();
    if let Some(file) = written {
        out["agentCredentialFile"] = json!(file);
    }
    Ok(Some(Output::new(out, identity_columns())))
}

/// A credential the server issued with the resource's first identity (#5
/// §2, `acrylicAgentCredential`, shown once): written to `file` (default
/// `<config dir>/agent-credentials/<group>-<name>.json`) readable by its
/// owner only, for `acrylic identity-agent --credential-file`, and taken
/// out of `v` so it is never printed. Returns the file's path.
fn keep_credential(
    s: &Session,
    v: &mut Value,
    resource: &ResourceRef,
    file: Option<std::path::PathBuf>,
) -> Result<Option<String>> {
    let Some(Value::Object(issued)) = v
        .as_object_mut()
        .and_then(|m| m.remove("acrylicAgentCredential"))
    else {
        return Ok(None);
    };
    let field = |k: &str| {
        issued
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_default()
    };
    let file = match file {
        Some(f) => f,
        None => {
            let dir = crate::profile::config_dir()?.join("agent-credentials");
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            dir.join(format!(
                "{}-{}.json",
                resource.resource_group.to_ascii_lowercase(),
                resource.name.to_ascii_lowercase()
            ))
        }
    };
    CredentialFile {
        server: s.client.base_url().to_owned(),
        ca_cert: s.profile.ca_cert.clone(),
        tenant_id: field("tenantId"),
        resource_id: field("resourceId"),
        credential: field("credential"),
    }
    .write(&file)?;
    let path = file.display().to_string();
    eprintln!(
        "The identity-agent credential of {} was written to {path} (start the agent with \
         `acrylic identity-agent --resource {} --credential-file {path}`)",
        resource.name,
        field("resourceId")
    );
    Ok(Some(path))
}

/// The resource with `resourceGroup` and acrylic's kind at the top level.
fn shape(v: Value) -> Value {
    let Value::Object(mut m) = v else {
        return v;
    };
    let rg = resource_group_of(&Value::Object(m.clone()));
    m.insert("resourceGroup".into(), Value::String(rg));
    let kind = m
        .get("properties")
        .and_then(|p| p.get("acrylicKind"))
        .cloned()
        .unwrap_or(Value::Null);
    m.insert("acrylicKind".into(), kind);
    Value::Object(m)
}

fn columns() -> Vec<Column> {
    vec![
        col("Name", "name"),
        col("Kind", "acrylicKind"),
        computed("ResourceGroup", resource_group_of),
        col("Location", "location"),
        col("Identity", "identity/type"),
    ]
}

fn identity_columns() -> Vec<Column> {
    vec![
        col("Type", "type"),
        col("PrincipalId", "principalId"),
        col("TenantId", "tenantId"),
    ]
}
