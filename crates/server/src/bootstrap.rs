//! First start: the tenant, subscription, resource group, owner and registry
//! a new server needs before anyone can log in; and [`create_registry`],
//! the one way a registry comes into being (the ARM surface calls it too).
//!
//! Exactly once, race-safe: the first process to insert the `bootstrap`
//! setting (`insert_setting_if_absent`) does the work, with every id fixed
//! in that setting up front, and marks it `done` at the end. Another replica
//! starting at the same moment waits for `done`. Every step is "create if
//! missing", so a start interrupted half-way (a crash) is finished by the
//! next start once the claim is older than [`TAKEOVER_AFTER`]. A restart
//! with `done` creates nothing.
//!
//! The owner's password is generated here, printed once by `acrylic serve`
//! and written to `<data-dir>/bootstrap.json` (mode 0600) before the user
//! exists, so a crash cannot leave an owner whose password nobody knows. The
//! CLI profile (`$ACRYLIC_CONFIG_DIR/profile.json`, default
//! `~/.acrylic/profile.json`) points `acrylic` commands at this server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use acrylic_identity::{SealError, password::HashError};
use acrylic_model::{
    ArmScope, ObjectId, RegistryId, RegistryName, ResourceGroupName, SubscriptionId, TenantId,
};
use acrylic_store::{
    PrincipalType, Registry, ResourceGroup, RoleAssignment, RoleAssignmentMode, StoreError,
    Subscription, Tenant, User,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::AppState;

/// The setting that records the bootstrap (its ids and state).
pub const MARKER: &str = "bootstrap";
/// Name of the bootstrap registry (answers on the bare listener address).
pub const REGISTRY_NAME: &str = "acrylic";
/// The bootstrap resource group.
pub const RESOURCE_GROUP: &str = "acrylic";
/// The bootstrap tenant's primary domain; the owner is `owner@<this>`.
pub const TENANT_DOMAIN: &str = "acrylic.local";
/// Location of bootstrap resources (ARM requires one; there is only here).
pub const LOCATION: &str = "local";
/// SKU recorded on new registries.
pub const SKU: &str = "Standard";
/// An unfinished claim older than this is taken over by the next start.
pub const TAKEOVER_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the `bootstrap` setting is unreadable ({0}); the metadata store is not one this version wrote"
    )]
    Marker(String),
    #[error("registry name {name}: {reason}")]
    Name { name: String, reason: String },
}

/// Why [`create_registry`] failed.
#[derive(Debug, thiserror::Error)]
pub enum CreateRegistryError {
    /// `StoreError::Conflict` when the name is taken.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// Creates a registry: a random id, the admin user disabled, two fresh
/// admin passwords sealed with the master key (acr-auth.md §6.5: ARM has no
/// field to supply them), login server `<name>.<domain>[:port]`.
pub async fn create_registry(
    state: &AppState,
    name: &RegistryName,
    sub: &SubscriptionId,
    rg: &ResourceGroupName,
    tenant: &TenantId,
    location: &str,
) -> Result<Registry, CreateRegistryError> {
    let registry = new_registry(
        state,
        RegistryId::new_random(),
        name,
        sub,
        rg,
        tenant,
        location,
        state.settings.login_server(name),
    )?;
    state.meta.create_registry(&registry).await?;
    Ok(registry)
}

#[allow(clippy::too_many_arguments)]
fn new_registry(
    state: &AppState,
    id: RegistryId,
    name: &RegistryName,
    sub: &SubscriptionId,
    rg: &ResourceGroupName,
    tenant: &TenantId,
    location: &str,
    login_server: String,
) -> Result<Registry, SealError> {
    let now = OffsetDateTime::now_utc();
    let p1 = acrylic_identity::admin::generate_password();
    let p2 = acrylic_identity::admin::generate_password();
    Ok(Registry {
        id,
        name: name.clone(),
        tenant_id: *tenant,
        subscription_id: *sub,
        resource_group: rg.clone(),
        location: location.to_owned(),
        sku: SKU.into(),
        login_server,
        admin_enabled: false,
        admin_password1_sealed: state.sealer.seal(p1.as_bytes())?,
        admin_password2_sealed: state.sealer.seal(p2.as_bytes())?,
        anonymous_pull_enabled: false,
        role_assignment_mode: RoleAssignmentMode::LegacyRegistryPermissions,
        created_at: now,
        updated_at: now,
    })
}

/// Where the bootstrap writes and what it tells clients.
#[derive(Debug, Clone)]
pub struct Context {
    pub data_dir: PathBuf,
    /// `scheme://host:port` of the listener.
    pub server_url: String,
    /// Login server of the bootstrap registry (the bare listener address).
    pub login_server: String,
    /// The generated CA clients must trust; `None` for plain HTTP or
    /// operator-supplied certificates.
    pub ca_cert: Option<PathBuf>,
    /// The CLI profile to write on first start; `None` writes none.
    pub profile: Option<PathBuf>,
}

/// What the bootstrap created (now or on an earlier start).
#[derive(Clone)]
pub struct Summary {
    pub tenant: TenantId,
    pub subscription: SubscriptionId,
    pub resource_group: ResourceGroupName,
    pub username: String,
    /// Known on first start, or read back from `bootstrap.json` while it
    /// exists.
    pub password: Option<String>,
    pub registry: RegistryName,
    pub registry_id: RegistryId,
    pub login_server: String,
    pub ca_cert: Option<PathBuf>,
    pub server_url: String,
    /// This start created the owner (print the password).
    pub first_start: bool,
    /// Path of `bootstrap.json`.
    pub file: PathBuf,
}

impl std::fmt::Debug for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Summary")
            .field("tenant", &self.tenant)
            .field("subscription", &self.subscription)
            .field("resource_group", &self.resource_group)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("registry", &self.registry)
            .field("login_server", &self.login_server)
            .field("first_start", &self.first_start)
            .finish_non_exhaustive()
    }
}

/// `<data-dir>/bootstrap.json`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BootstrapFile {
    tenant: TenantId,
    subscription: SubscriptionId,
    resource_group: ResourceGroupName,
    username: String,
    password: Option<String>,
    registry: RegistryName,
    login_server: String,
    ca_cert: Option<PathBuf>,
    server_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Progress {
    Claimed,
    Done,
}

/// The `bootstrap` setting: every id, fixed before any is created.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Marker {
    progress: Progress,
    /// Unix seconds of the claim (for takeover after a crash).
    claimed_at: i64,
    tenant: TenantId,
    tenant_domain: String,
    subscription: SubscriptionId,
    resource_group: ResourceGroupName,
    owner: ObjectId,
    username: String,
    role_assignment: uuid::Uuid,
    registry_id: RegistryId,
    registry: RegistryName,
}

impl Marker {
    fn fresh(now: OffsetDateTime) -> Result<Marker, BootstrapError> {
        let name_err = |e: acrylic_model::InvalidName| BootstrapError::Name {
            name: REGISTRY_NAME.into(),
            reason: e.to_string(),
        };
        Ok(Marker {
            progress: Progress::Claimed,
            claimed_at: now.unix_timestamp(),
            tenant: TenantId::new_random(),
            tenant_domain: TENANT_DOMAIN.into(),
            subscription: SubscriptionId::new_random(),
            resource_group: ResourceGroupName::parse(RESOURCE_GROUP).map_err(name_err)?,
            owner: ObjectId::new_random(),
            username: format!("owner@{TENANT_DOMAIN}"),
            role_assignment: uuid::Uuid::new_v4(),
            registry_id: RegistryId::new_random(),
            registry: RegistryName::parse(REGISTRY_NAME).map_err(name_err)?,
        })
    }

    fn to_json(&self) -> String {
        // A struct of strings and numbers always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    fn parse(s: &str) -> Result<Marker, BootstrapError> {
        serde_json::from_str(s).map_err(|e| BootstrapError::Marker(e.to_string()))
    }
}

/// Bootstraps on first start; on later starts reads back what was made.
/// `state.settings.bootstrap_registry` need not be set yet.
pub async fn ensure(state: &AppState, ctx: &Context) -> Result<Summary, BootstrapError> {
    let now = OffsetDateTime::now_utc();
    let claim = Marker::fresh(now)?;
    if state
        .meta
        .insert_setting_if_absent(MARKER, &claim.to_json())
        .await?
    {
        tracing::info!(tenant = %claim.tenant, "first start: bootstrapping");
        return finish(state, ctx, claim).await;
    }
    let deadline = tokio::time::Instant::now() + TAKEOVER_AFTER;
    loop {
        let current = match state.meta.find_setting(MARKER).await? {
            Some(s) => Marker::parse(&s)?,
            None => return Err(BootstrapError::Marker("vanished while starting".into())),
        };
        if current.progress == Progress::Done {
            grant_directory_admin(state, &current.owner).await?;
            refresh_profile(ctx, &current);
            return summary_of_done(ctx, &current);
        }
        let age = OffsetDateTime::now_utc().unix_timestamp() - current.claimed_at;
        let stale = age >= i64::try_from(TAKEOVER_AFTER.as_secs()).unwrap_or(i64::MAX);
        if stale || tokio::time::Instant::now() >= deadline {
            tracing::warn!(
                age_secs = age,
                "an earlier bootstrap did not finish; finishing it"
            );
            return finish(state, ctx, current).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Creates whatever of the claim is missing, then marks it done.
async fn finish(state: &AppState, ctx: &Context, mut m: Marker) -> Result<Summary, BootstrapError> {
    let now = OffsetDateTime::now_utc();
    let meta = &state.meta;

    if meta.find_tenant(&m.tenant).await?.is_none() {
        ignore_conflict(
            meta.create_tenant(&Tenant {
                id: m.tenant,
                domain: m.tenant_domain.clone(),
                display_name: "acrylic".into(),
                created_at: now,
            })
            .await,
        )?;
    }
    if meta.find_subscription(&m.subscription).await?.is_none() {
        ignore_conflict(
            meta.create_subscription(&Subscription {
                id: m.subscription,
                tenant_id: m.tenant,
                display_name: "acrylic".into(),
                created_at: now,
            })
            .await,
        )?;
    }
    if meta
        .find_resource_group(&m.subscription, &m.resource_group)
        .await?
        .is_none()
    {
        meta.put_resource_group(&ResourceGroup {
            subscription_id: m.subscription,
            name: m.resource_group.clone(),
            location: LOCATION.into(),
            created_at: now,
        })
        .await?;
    }

    let file = ctx.data_dir.join("bootstrap.json");
    let mut password = None;
    if meta.find_user(&m.owner).await?.is_none() {
        let pw = acrylic_identity::admin::generate_password();
        let hash = tokio::task::spawn_blocking({
            let pw = pw.clone();
            move || acrylic_identity::password::hash(&pw)
        })
        .await
        .map_err(|e| BootstrapError::Marker(format!("hashing task failed: {e}")))??;
        // The file first: a crash after this leaves a password someone can read.
        write_bootstrap_file(&file, &m, Some(&pw), ctx)?;
        ignore_conflict(
            meta.create_user(&User {
                id: m.owner,
                tenant_id: m.tenant,
                upn: m.username.clone(),
                display_name: "Owner".into(),
                password_hash: hash,
                enabled: true,
                sessions_valid_after: now,
                created_at: now,
            })
            .await,
        )?;
        password = Some(pw);
    }

    let has_assignment = meta
        .list_role_assignments_for(&[m.owner])
        .await?
        .iter()
        .any(|a| a.id == m.role_assignment);
    if !has_assignment {
        ignore_conflict(
            meta.create_role_assignment(&RoleAssignment {
                id: m.role_assignment,
                scope: ArmScope::subscription(&m.subscription),
                role_definition_id: acrylic_authz::roles::OWNER,
                principal_id: m.owner,
                principal_type: PrincipalType::User,
                condition: None,
                created_at: now,
            })
            .await,
        )?;
    }

    if meta.find_registry(&m.registry_id).await?.is_none() {
        let registry = new_registry(
            state,
            m.registry_id.clone(),
            &m.registry,
            &m.subscription,
            &m.resource_group,
            &m.tenant,
            LOCATION,
            ctx.login_server.clone(),
        )?;
        meta.create_registry(&registry).await?;
    }

    grant_directory_admin(state, &m.owner).await?;

    m.progress = Progress::Done;
    meta.put_setting(MARKER, &m.to_json()).await?;

    if let Some(profile) = &ctx.profile
        && let Err(e) = write_profile(profile, &m, ctx)
    {
        tracing::warn!(error = %e, "could not write the CLI profile");
    }

    let mut summary = summary_of_done(ctx, &m)?;
    if password.is_some() {
        summary.password = password;
        summary.first_start = true;
    }
    Ok(summary)
}

// -- the owner's directory role (directory engineer, #3) --

/// Setting recording the owner's Global Administrator assignment: its id,
/// then `<id>:done` once it exists (so an administrator who later removes
/// the assignment is not overruled at the next start).
const DIRECTORY_ADMIN_MARKER: &str = "bootstrap_directory_admin";

/// The owner is the directory's Global Administrator (a directory role at
/// scope `/`), as the account that creates an Entra tenant is. Race-safe
/// (the id is fixed in a setting first) and idempotent; run on every start,
/// so data bootstrapped before directory roles existed gets it too.
async fn grant_directory_admin(state: &AppState, owner: &ObjectId) -> Result<(), BootstrapError> {
    let candidate = uuid::Uuid::new_v4();
    state
        .meta
        .insert_setting_if_absent(DIRECTORY_ADMIN_MARKER, &candidate.to_string())
        .await?;
    let value = state
        .meta
        .find_setting(DIRECTORY_ADMIN_MARKER)
        .await?
        .ok_or_else(|| BootstrapError::Marker("the directory admin marker vanished".into()))?;
    if value.ends_with(":done") {
        return Ok(());
    }
    let id = uuid::Uuid::parse_str(&value)
        .map_err(|e| BootstrapError::Marker(format!("{DIRECTORY_ADMIN_MARKER}: {e}")))?;
    let exists = state
        .meta
        .list_role_assignments_for(&[*owner])
        .await?
        .iter()
        .any(|a| a.id == id);
    if !exists {
        ignore_conflict(
            state
                .meta
                .create_role_assignment(&RoleAssignment {
                    id,
                    scope: ArmScope::root(),
                    role_definition_id: acrylic_authz::roles::GLOBAL_ADMINISTRATOR,
                    principal_id: *owner,
                    principal_type: PrincipalType::User,
                    condition: None,
                    created_at: OffsetDateTime::now_utc(),
                })
                .await,
        )?;
        tracing::info!(%owner, "the owner is the directory's Global Administrator");
    }
    state
        .meta
        .put_setting(DIRECTORY_ADMIN_MARKER, &format!("{id}:done"))
        .await?;
    Ok(())
}

// -- end of the owner's directory role --

fn ignore_conflict(r: Result<(), StoreError>) -> Result<(), StoreError> {
    match r {
        Err(StoreError::Conflict { .. }) => Ok(()),
        other => other,
    }
}

/// A later start: the facts from the marker, the password from
/// `bootstrap.json` if it is still there (whose addresses are refreshed:
/// the port or the CA may have changed).
fn summary_of_done(ctx: &Context, m: &Marker) -> Result<Summary, BootstrapError> {
    let file = ctx.data_dir.join("bootstrap.json");
    let existing: Option<BootstrapFile> = std::fs::read(&file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let password = existing.as_ref().and_then(|f| f.password.clone());
    if let Some(f) = &existing {
        let stale = f.login_server != ctx.login_server
            || f.server_url != ctx.server_url
            || f.ca_cert != ctx.ca_cert;
        if stale {
            write_bootstrap_file(&file, m, password.as_deref(), ctx)?;
        }
    }
    Ok(Summary {
        tenant: m.tenant,
        subscription: m.subscription,
        resource_group: m.resource_group.clone(),
        username: m.username.clone(),
        password,
        registry: m.registry.clone(),
        registry_id: m.registry_id.clone(),
        login_server: ctx.login_server.clone(),
        ca_cert: ctx.ca_cert.clone(),
        server_url: ctx.server_url.clone(),
        first_start: false,
        file,
    })
}

fn write_bootstrap_file(
    path: &Path,
    m: &Marker,
    password: Option<&str>,
    ctx: &Context,
) -> Result<(), BootstrapError> {
    let body = BootstrapFile {
        tenant: m.tenant,
        subscription: m.subscription,
        resource_group: m.resource_group.clone(),
        username: m.username.clone(),
        password: password.map(str::to_owned),
        registry: m.registry.clone(),
        login_server: ctx.login_server.clone(),
        ca_cert: ctx.ca_cert.clone(),
        server_url: ctx.server_url.clone(),
    };
    let mut json = serde_json::to_vec_pretty(&body).unwrap_or_default();
    json.push(b'\n');
    crate::tls::write_atomic(path, &json, true).map_err(|e| BootstrapError::Io {
        path: path.to_owned(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// The CLI profile's default location: `$ACRYLIC_CONFIG_DIR/profile.json`,
/// else `$HOME/.acrylic/profile.json`.
pub fn default_profile_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ACRYLIC_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("profile.json"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".acrylic").join("profile.json"))
}

/// Writes the profile keys this server owns (`serverUrl`, `tenant`,
/// `subscription`, `resourceGroup`, `caCert`, `user`), keeping any other
/// keys the CLI stored in the file. Mode 0600.
fn write_profile(path: &Path, m: &Marker, ctx: &Context) -> Result<(), BootstrapError> {
    let io = |source| BootstrapError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut doc: serde_json::Map<String, serde_json::Value> = std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let ca = ctx.ca_cert.as_ref().map(|p| p.display().to_string());
    for (k, v) in [
        ("serverUrl", serde_json::json!(ctx.server_url)),
        ("tenant", serde_json::json!(m.tenant)),
        ("subscription", serde_json::json!(m.subscription)),
        ("resourceGroup", serde_json::json!(m.resource_group)),
        ("caCert", serde_json::json!(ca)),
        ("user", serde_json::json!(m.username)),
    ] {
        doc.insert(k.into(), v);
    }
    let mut json = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    json.push(b'\n');
    crate::tls::write_atomic(path, &json, true)
        .map_err(|e| io(std::io::Error::other(e.to_string())))
}

/// A later start: if the CLI profile still belongs to this server (same
/// tenant) but names an old address or CA, point it at the current ones.
fn refresh_profile(ctx: &Context, m: &Marker) {
    let Some(path) = &ctx.profile else { return };
    let Some(doc) = std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
    else {
        return;
    };
    let ca = ctx.ca_cert.as_ref().map(|p| p.display().to_string());
    let ours = doc.get("tenant").and_then(|t| t.as_str()) == Some(m.tenant.to_string().as_str());
    let current = doc.get("serverUrl").and_then(|u| u.as_str()) == Some(ctx.server_url.as_str())
        && doc.get("caCert").and_then(|c| c.as_str()) == ca.as_deref();
    if ours
        && !current
        && let Err(e) = write_profile(path, m, ctx)
    {
        tracing::warn!(error = %e, "could not update the CLI profile");
    }
}

/// Brings every registry's stored login server in line with the listener
/// as it is now (the port may differ from the last start): the bootstrap
/// registry gets the bare address, the others `<name>.<domain>[:port]`.
pub async fn refresh_login_servers(
    state: &AppState,
    bootstrap: &RegistryId,
    bare: &str,
) -> Result<(), StoreError> {
    for mut r in state.meta.list_registries(None, None).await? {
        let wanted = if &r.id == bootstrap {
            bare.to_owned()
        } else {
            state.settings.login_server(&r.name)
        };
        if r.login_server != wanted {
            r.login_server = wanted;
            r.updated_at = OffsetDateTime::now_utc();
            state.meta.update_registry(&r).await?;
        }
    }
    Ok(())
}
