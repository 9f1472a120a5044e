//! The metadata store: records and the [`MetaStore`] trait.
//!
//! Conventions: `find_*` returns `Option`, `get_*` returns `NotFound`;
//! times are UTC `OffsetDateTime` (stored as epoch milliseconds, so they
//! come back truncated to the millisecond); names are stored exactly as the
//! validated model types print them.

use acrylic_model::{
    ArmScope, Digest, ObjectId, RegistryId, RegistryName, RepositoryName, ResourceGroupName,
    SubscriptionId, Tag, TenantId, UploadId,
};
use async_trait::async_trait;
use time::OffsetDateTime;

mod sql;
pub use sql::SqlMetaStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key is taken (a registry name, a UPN, …).
    #[error("{what} already exists")]
    Conflict { what: String },
    #[error("{what} not found")]
    NotFound { what: String },
    /// The database failed; the cause is for the log, not the client.
    #[error("metadata store: {0}")]
    Backend(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    /// Primary domain, e.g. `acrylic.local`; user UPNs end in it.
    pub domain: String,
    pub display_name: String,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub tenant_id: TenantId,
    pub display_name: String,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceGroup {
    pub subscription_id: SubscriptionId,
    pub name: ResourceGroupName,
    pub location: String,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: ObjectId,
    pub tenant_id: TenantId,
    /// Unique across the server, compared case-insensitively.
    pub upn: String,
    pub display_name: String,
    /// argon2id PHC string; never the password.
    pub password_hash: String,
    pub enabled: bool,
    /// Directory refresh tokens issued before this instant are dead
    /// (sign-out, revoke-sessions, password reset).
    pub sessions_valid_after: OffsetDateTime,
    pub created_at: OffsetDateTime,
}

/// What kind of principal a role assignment names (ARM `principalType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalType {
    User,
    Group,
    ServicePrincipal,
}

impl PrincipalType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Group => "Group",
            Self::ServicePrincipal => "ServicePrincipal",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "User" => Some(Self::User),
            "Group" => Some(Self::Group),
            "ServicePrincipal" => Some(Self::ServicePrincipal),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAssignment {
    /// GUID name of the assignment.
    pub id: uuid::Uuid,
    pub scope: ArmScope,
    /// The role definition's GUID (built-in or custom).
    pub role_definition_id: uuid::Uuid,
    pub principal_id: ObjectId,
    pub principal_type: PrincipalType,
    /// ABAC condition text (conditionVersion 2.0), if any.
    pub condition: Option<String>,
    pub created_at: OffsetDateTime,
}

/// A token-signing key. The private key is sealed (AES-GCM with the
/// server's master key) before it reaches the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub kid: String,
    /// `ES256`, `RS256`, …
    pub algorithm: String,
    /// `registry` (registry refresh/access tokens) or `directory`.
    pub purpose: String,
    /// Directory keys belong to a tenant; registry keys to none.
    pub tenant_id: Option<TenantId>,
    pub sealed_private_key: Vec<u8>,
    pub created_at: OffsetDateTime,
    /// Not used for signing before this (published first, for rotation).
    pub active_from: OffsetDateTime,
    /// No longer used for signing after this; still verifies until dropped.
    pub retired_at: Option<OffsetDateTime>,
}

/// Which role-assignment mode a registry uses (ARM `roleAssignmentMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleAssignmentMode {
    LegacyRegistryPermissions,
    AbacRepositoryPermissions,
}

impl RoleAssignmentMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LegacyRegistryPermissions => "LegacyRegistryPermissions",
            Self::AbacRepositoryPermissions => "AbacRepositoryPermissions",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "LegacyRegistryPermissions" => Some(Self::LegacyRegistryPermissions),
            "AbacRepositoryPermissions" => Some(Self::AbacRepositoryPermissions),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    pub id: RegistryId,
    pub name: RegistryName,
    pub tenant_id: TenantId,
    pub subscription_id: SubscriptionId,
    pub resource_group: ResourceGroupName,
    pub location: String,
    pub sku: String,
    /// Host[:port] clients use, e.g. `myreg.acrylic.localhost:5000`.
    pub login_server: String,
    pub admin_enabled: bool,
    /// Admin passwords sealed with the master key (they must be showable
    /// again, per ACR's listCredentials).
    pub admin_password1_sealed: Vec<u8>,
    pub admin_password2_sealed: Vec<u8>,
    pub anonymous_pull_enabled: bool,
    pub role_assignment_mode: RoleAssignmentMode,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Registry {
    pub fn arm_scope(&self) -> ArmScope {
        ArmScope::registry(&self.subscription_id, &self.resource_group, &self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryRecord {
    pub registry_id: RegistryId,
    pub name: RepositoryName,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRecord {
    pub registry_id: RegistryId,
    pub repository: RepositoryName,
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    /// `artifactType`, or the config media type for image manifests
    /// (OCI dist-spec: referrers use it when `artifactType` is absent).
    pub artifact_type: Option<String>,
    /// The `subject` descriptor's digest (referrers API).
    pub subject: Option<Digest>,
    /// The manifest's `annotations` as a JSON object string.
    pub annotations: Option<String>,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRecord {
    pub registry_id: RegistryId,
    pub repository: RepositoryName,
    pub name: Tag,
    pub digest: Digest,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A blob upload in progress. The bytes live in the BlobStore's staging
/// area under the same id; this row makes the session visible to every
/// replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    pub id: UploadId,
    pub registry_id: RegistryId,
    pub repository: RepositoryName,
    pub size: u64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A page request: items strictly after `last` (lexical order), at most `n`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub last: Option<String>,
    pub n: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// UUIDv7: sortable by time.
    pub id: uuid::Uuid,
    pub at: OffsetDateTime,
    pub registry_id: Option<RegistryId>,
    /// e.g. `admin`, `user:<upn>`, `anonymous`.
    pub principal: String,
    /// `token`, `push`, `delete`, …
    pub action: String,
    pub repository: Option<String>,
    /// `granted`, `partial`, `denied`, `failed`.
    pub decision: String,
    pub client_addr: Option<String>,
    /// Free text: the scopes asked for and granted, the reason for a denial.
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub registry_id: Option<RegistryId>,
    pub principal: Option<String>,
    pub action: Option<String>,
    pub repository: Option<String>,
    pub since: Option<OffsetDateTime>,
    /// Newest first; at most this many (default 100).
    pub limit: Option<u32>,
}

/// Everything acrylic keeps besides blob bytes. Implementations must be
/// safe to share between replicas: no state that matters lives in memory.
#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    /// Reachable and migrated (readiness probe).
    async fn ping(&self) -> Result<()>;

    // -- settings (bootstrap marker, master-key check, …) --
    async fn find_setting(&self, key: &str) -> Result<Option<String>>;
    /// Sets `key` only if unset; returns whether this call set it. The
    /// bootstrap uses this so two replicas starting at once bootstrap once.
    async fn insert_setting_if_absent(&self, key: &str, value: &str) -> Result<bool>;
    async fn put_setting(&self, key: &str, value: &str) -> Result<()>;

    // -- directory --
    async fn create_tenant(&self, t: &Tenant) -> Result<()>;
    async fn find_tenant(&self, id: &TenantId) -> Result<Option<Tenant>>;
    async fn find_tenant_by_domain(&self, domain: &str) -> Result<Option<Tenant>>;
    async fn list_tenants(&self) -> Result<Vec<Tenant>>;
    async fn create_subscription(&self, s: &Subscription) -> Result<()>;
    async fn find_subscription(&self, id: &SubscriptionId) -> Result<Option<Subscription>>;
    async fn list_subscriptions(&self) -> Result<Vec<Subscription>>;
    /// Creates or updates (location) the group.
    async fn put_resource_group(&self, g: &ResourceGroup) -> Result<()>;
    async fn find_resource_group(
        &self,
        sub: &SubscriptionId,
        name: &ResourceGroupName,
    ) -> Result<Option<ResourceGroup>>;
    async fn list_resource_groups(&self, sub: &SubscriptionId) -> Result<Vec<ResourceGroup>>;
    async fn create_user(&self, u: &User) -> Result<()>;
    async fn find_user(&self, id: &ObjectId) -> Result<Option<User>>;
    /// Case-insensitive UPN lookup.
    async fn find_user_by_upn(&self, upn: &str) -> Result<Option<User>>;
    async fn list_users(&self, tenant: &TenantId) -> Result<Vec<User>>;
    async fn update_user(&self, u: &User) -> Result<()>;
    async fn delete_user(&self, id: &ObjectId) -> Result<bool>;

    // -- RBAC --
    async fn create_role_assignment(&self, a: &RoleAssignment) -> Result<()>;
    /// Assignments naming any of these principals (a principal and its groups).
    async fn list_role_assignments_for(
        &self,
        principals: &[ObjectId],
    ) -> Result<Vec<RoleAssignment>>;
    /// Assignments whose scope is `scope` or lies below it.
    async fn list_role_assignments_under(&self, scope: &ArmScope) -> Result<Vec<RoleAssignment>>;
    async fn delete_role_assignment(&self, id: &uuid::Uuid) -> Result<bool>;

    // -- signing keys --
    async fn insert_signing_key(&self, k: &SigningKey) -> Result<()>;
    async fn list_signing_keys(&self, purpose: &str) -> Result<Vec<SigningKey>>;
    async fn retire_signing_key(&self, kid: &str, at: OffsetDateTime) -> Result<()>;

    // -- registries --
    /// `Conflict` when the name is taken (names are unique server-wide, as
    /// login servers are in Azure).
    async fn create_registry(&self, r: &Registry) -> Result<()>;
    async fn find_registry(&self, id: &RegistryId) -> Result<Option<Registry>>;
    async fn find_registry_by_name(&self, name: &RegistryName) -> Result<Option<Registry>>;
    /// All registries, or those of one subscription / resource group.
    async fn list_registries(
        &self,
        sub: Option<&SubscriptionId>,
        rg: Option<&ResourceGroupName>,
    ) -> Result<Vec<Registry>>;
    async fn update_registry(&self, r: &Registry) -> Result<()>;
    /// Deletes the registry and all its metadata (repositories, manifests,
    /// tags, blob links, uploads). Blob bytes are left to garbage collection.
    async fn delete_registry(&self, id: &RegistryId) -> Result<bool>;

    // -- repositories and content --
    /// Links a verified blob into a repository (creating the repository
    /// row if needed). Idempotent.
    async fn link_blob(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        digest: &Digest,
        size: u64,
    ) -> Result<()>;
    /// The size of a blob, if it is linked into this repository.
    async fn find_linked_blob(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        digest: &Digest,
    ) -> Result<Option<u64>>;
    async fn unlink_blob(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        digest: &Digest,
    ) -> Result<bool>;
    /// In one transaction: create the repository row if needed, insert the
    /// manifest (or keep the existing identical one), record the digests it
    /// references (for GC), link the manifest digest itself as a blob, and
    /// point `tag` at it if given.
    async fn put_manifest(
        &self,
        m: &ManifestRecord,
        references: &[Digest],
        tag: Option<&Tag>,
    ) -> Result<()>;
    async fn find_manifest(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        digest: &Digest,
    ) -> Result<Option<ManifestRecord>>;
    /// Deletes the manifest, every tag that points at it and its link.
    async fn delete_manifest(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        digest: &Digest,
    ) -> Result<bool>;
    async fn find_tag(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        tag: &Tag,
    ) -> Result<Option<TagRecord>>;
    /// Tags in lexical order.
    async fn list_tags(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        page: &Page,
    ) -> Result<Vec<TagRecord>>;
    async fn tags_of_manifest(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        digest: &Digest,
    ) -> Result<Vec<Tag>>;
    async fn delete_tag(&self, reg: &RegistryId, repo: &RepositoryName, tag: &Tag) -> Result<bool>;
    /// Manifests of this repository whose `subject` is `subject`.
    async fn list_referrers(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        subject: &Digest,
    ) -> Result<Vec<ManifestRecord>>;
    async fn find_repository(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
    ) -> Result<Option<RepositoryRecord>>;
    /// Repository names in lexical order.
    async fn list_repositories(&self, reg: &RegistryId, page: &Page)
    -> Result<Vec<RepositoryName>>;
    /// Deletes a repository with its manifests, tags and links.
    async fn delete_repository(&self, reg: &RegistryId, repo: &RepositoryName) -> Result<bool>;

    // -- uploads --
    async fn create_upload(&self, u: &UploadRecord) -> Result<()>;
    async fn find_upload(&self, id: &UploadId) -> Result<Option<UploadRecord>>;
    async fn set_upload_size(&self, id: &UploadId, size: u64, at: OffsetDateTime) -> Result<()>;
    async fn delete_upload(&self, id: &UploadId) -> Result<bool>;
    /// Uploads not touched since `before` (for the janitor).
    async fn list_stale_uploads(&self, before: OffsetDateTime) -> Result<Vec<UploadRecord>>;

    // -- audit --
    async fn append_audit(&self, r: &AuditRecord) -> Result<()>;
    async fn list_audit(&self, f: &AuditFilter) -> Result<Vec<AuditRecord>>;
}
