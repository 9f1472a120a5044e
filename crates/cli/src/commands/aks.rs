//! `acrylic aks create|update|show|delete|get-node-config` — az's `aks`
//! commands for what acrylic models of a cluster (issue #5 §3): its
//! kubelet identity (a user-assigned identity `<cluster>-agentpool`) or its
//! service principal, `--attach-acr` / `--detach-acr` (an AcrPull role
//! assignment at the registry, made by the server's `attachAcr` /
//! `detachAcr` actions, acr-auth.md §7.1) and the node configuration file
//! (the analogue of `/etc/kubernetes/azure.json`).

use anyhow::Result;
use reqwest::Method;
use serde_json::{Value, json};

use super::acr::{self, RegistryArgs};
use super::identity::{resource_group_location, resource_group_of};
use super::{Context, Session};
use crate::client::CliError;
use crate::output::{Column, Output, col, computed};

const PROVIDER: &str = "providers/Microsoft.ContainerService/managedClusters";

#[derive(Debug, Clone, clap::Args)]
pub struct ClusterRef {
    #[arg(short, long)]
    pub name: String,
    #[arg(short = 'g', long)]
    pub resource_group: String,
}

impl ClusterRef {
    fn id(&self, s: &Session) -> Result<String> {
        Ok(format!(
            "/subscriptions/{}/resourceGroups/{}/{PROVIDER}/{}",
            s.subscription()?,
            self.resource_group,
            self.name
        ))
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum AksCommand {
    /// Create a cluster: with a kubelet identity, or with a service
    /// principal (`--service-principal` + `--client-secret`).
    Create {
        #[command(flatten)]
        cluster: ClusterRef,
        /// Location (default: the resource group's).
        #[arg(short, long)]
        location: Option<String>,
        /// Grant the cluster AcrPull on this registry (name or resource id).
        #[arg(long)]
        attach_acr: Option<String>,
        /// The application (client) id of the cluster's service principal.
        #[arg(long, requires = "client_secret")]
        service_principal: Option<String>,
        /// The service principal's client secret.
        #[arg(long, requires = "service_principal")]
        client_secret: Option<String>,
    },
    /// Attach or detach a registry.
    Update {
        #[command(flatten)]
        cluster: ClusterRef,
        /// Grant the cluster AcrPull on this registry (name or resource id).
        #[arg(long, conflicts_with = "detach_acr")]
        attach_acr: Option<String>,
        /// Remove the cluster's AcrPull on this registry.
        #[arg(long)]
        detach_acr: Option<String>,
    },
    /// Show a cluster.
    Show {
        #[command(flatten)]
        cluster: ClusterRef,
    },
    /// Delete a cluster and its kubelet identity.
    Delete {
        #[command(flatten)]
        cluster: ClusterRef,
    },
    /// Print the node configuration file (azure.json's analogue): tenant,
    /// authority, the kubelet identity's client id or the service
    /// principal's credentials, registry name patterns.
    GetNodeConfig {
        #[command(flatten)]
        cluster: ClusterRef,
    },
}

pub async fn run(ctx: &Context, cmd: AksCommand) -> Result<Option<Output>> {
    let s = ctx.session()?;
    match cmd {
        AksCommand::Create {
            cluster,
            location,
            attach_acr,
            service_principal,
            client_secret,
        } => {
            let location = match location {
                Some(l) => l,
                None => resource_group_location(&s, &cluster.resource_group).await?,
            };
            let mut body = json!({ "location": location, "properties": {} });
            if let (Some(app), Some(secret)) = (service_principal, client_secret) {
                body["properties"]["servicePrincipalProfile"] =
                    json!({"clientId": app, "secret": secret});
            }
            let id = cluster.id(&s)?;
            let mut v = s
                .arm(Method::PUT, &id, Some(&body))
                .await?
                .unwrap_or(Value::Null);
            if let Some(reg) = attach_acr {
                v = acr_action(&s, &id, "attachAcr", &reg).await?;
            }
            Ok(Some(Output::new(shape(v), columns())))
        }
        AksCommand::Update {
            cluster,
            attach_acr,
            detach_acr,
        } => {
            let id = cluster.id(&s)?;
            let v = match (attach_acr, detach_acr) {
                (Some(reg), None) => acr_action(&s, &id, "attachAcr", &reg).await?,
                (None, Some(reg)) => acr_action(&s, &id, "detachAcr", &reg).await?,
                _ => {
                    return Err(
                        CliError::Usage("pass one of --attach-acr or --detach-acr".into()).into(),
                    );
                }
            };
            Ok(Some(Output::new(shape(v), columns())))
        }
        AksCommand::Show { cluster } => {
            let v = s
                .arm(Method::GET, &cluster.id(&s)?, None)
                .await?
                .unwrap_or(Value::Null);
            Ok(Some(Output::new(shape(v), columns())))
        }
        AksCommand::Delete { cluster } => {
            s.arm(Method::DELETE, &cluster.id(&s)?, None).await?;
            Ok(None)
        }
        AksCommand::GetNodeConfig { cluster } => {
            let v = s
                .arm(
                    Method::POST,
                    &format!("{}/nodeConfig", cluster.id(&s)?),
                    None,
                )
                .await?
                .unwrap_or(Value::Null);
            Ok(Some(Output::new(v, vec![col("TenantId", "tenantId")])))
        }
    }
}

/// `attachAcr` / `detachAcr` with the registry's id (`reg` is an id, or a
/// registry name found as `acrylic acr` finds it).
async fn acr_action(s: &Session, cluster: &str, action: &str, reg: &str) -> Result<Value> {
    let registry_id = if reg.starts_with('/') {
        reg.to_owned()
    } else {
        acr::resolve(
            s,
            &RegistryArgs {
                name: reg.to_owned(),
                resource_group: None,
            },
        )
        .await?
    };
    Ok(s.arm(
        Method::POST,
        &format!("{cluster}/{action}"),
        Some(&json!({ "registryId": registry_id })),
    )
    .await?
    .unwrap_or(Value::Null))
}

/// az's shape plus `resourceGroup` from the id.
fn shape(v: Value) -> Value {
    let Value::Object(mut m) = v else {
        return v;
    };
    let rg = resource_group_of(&Value::Object(m.clone()));
    m.insert("resourceGroup".into(), Value::String(rg));
    Value::Object(m)
}

fn columns() -> Vec<Column> {
    vec![
        col("Name", "name"),
        computed("ResourceGroup", resource_group_of),
        col("Location", "location"),
        col("NodeResourceGroup", "properties/nodeResourceGroup"),
        col(
            "KubeletClientId",
            "properties/identityProfile/kubeletidentity/clientId",
        ),
    ]
}
