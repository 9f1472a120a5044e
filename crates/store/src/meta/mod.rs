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

/// ACR's changeable attributes of a repository, tag or manifest
/// (`changeableAttributes` in `/acr/v1/…`). Everything is enabled until
/// someone changes it; what each flag refuses is the registry crate's rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeableAttributes {
    pub delete_enabled: bool,
    pub write_enabled: bool,
    pub read_enabled: bool,
    pub list_enabled: bool,
}

impl Default for ChangeableAttributes {
    fn default() -> Self {
        Self {
            delete_enabled: true,
            write_enabled: true,
            read_enabled: true,
            list_enabled: true,
        }
    }
}

/// Whose attributes: a repository, one of its tags or one of its manifests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeTarget<'a> {
    Repository,
    Tag(&'a Tag),
    Manifest(&'a Digest),
}

/// A repository with its attributes and how much it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryDetail {
    pub record: RepositoryRecord,
    pub attributes: ChangeableAttributes,
    pub manifest_count: u64,
    pub tag_count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagDetail {
    pub record: TagRecord,
    pub attributes: ChangeableAttributes,
}

/// What an image manifest's config says, as ACR reports it per manifest.
/// All `None` for an index, or for an artifact whose config is not an
/// image config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestConfig {
    /// The config descriptor's `mediaType`.
    pub media_type: Option<String>,
    pub architecture: Option<String>,
    pub os: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestDetail {
    pub record: ManifestRecord,
    pub config: ManifestConfig,
    pub attributes: ChangeableAttributes,
    /// The last change to the manifest's attributes, else its push time.
    pub updated_at: OffsetDateTime,
}

/// The order of a metadata listing (`/acr/v1` `orderby`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListOrder {
    /// Lexical by tag name, or by digest for manifests.
    #[default]
    Name,
    /// Most recently updated first; ties by name (digest), descending.
    TimeDesc,
    /// Least recently updated first; ties by name (digest), ascending.
    TimeAsc,
}

/// A page of tags. `page.last` names the last tag of the previous page in
/// every order; under a time order, a `last` that no longer exists ends the
/// listing (its place in the order is gone).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagQuery {
    pub page: Page,
    pub order: ListOrder,
    /// Only tags pointing at this manifest.
    pub digest: Option<Digest>,
    /// Leave out tags whose `list_enabled` is false.
    pub listed_only: bool,
}

/// A page of manifests; `page.last` is the last digest of the previous
/// page, with the same rule as [`TagQuery`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestQuery {
    pub page: Page,
    pub order: ListOrder,
    /// Leave out manifests whose `list_enabled` is false.
    pub listed_only: bool,
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

// -- directory sessions, groups (#3) --

/// A directory refresh token (MSAL `offline_access`), kept as the SHA-256
/// of the value the client holds. Every use rotates it: the used row stays
/// (with `used_at`) until it expires, so a replay is recognised and kills
/// its whole family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectorySession {
    /// Lowercase hex SHA-256 of the refresh token.
    pub token_hash: String,
    /// One sign-in and every token rotated from it.
    pub family_id: uuid::Uuid,
    pub user_id: ObjectId,
    pub tenant_id: TenantId,
    /// The client the token was issued to; only it may redeem it.
    pub client_id: String,
    /// The scopes of the sign-in (space-separated), for a refresh that
    /// names none.
    pub scope: String,
    /// When the family's sign-in happened (compared with
    /// `User::sessions_valid_after`).
    pub auth_time: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// Set when the token was redeemed (rotated).
    pub used_at: Option<OffsetDateTime>,
}

/// Where a device authorization grant (RFC 8628) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceCodeStatus {
    Pending,
    Approved,
    Denied,
}

impl DeviceCodeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "denied" => Some(Self::Denied),
            _ => None,
        }
    }
}

/// A device authorization grant: the device polls with `device_code`, the
/// user types `user_code` on the sign-in page. Both are kept hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCode {
    /// Lowercase hex SHA-256 of the device code.
    pub device_code_hash: String,
    /// Lowercase hex SHA-256 of the normalised user code; unique.
    pub user_code_hash: String,
    pub client_id: String,
    /// `None` when requested under `organizations`/`common`.
    pub tenant_id: Option<TenantId>,
    /// The requested scopes (space-separated).
    pub scope: String,
    pub status: DeviceCodeStatus,
    /// The user who approved or denied it.
    pub user_id: Option<ObjectId>,
    /// Minimum seconds between polls (grows on `slow_down`).
    pub interval_secs: u32,
    pub last_polled_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A security group of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: ObjectId,
    pub tenant_id: TenantId,
    pub display_name: String,
    pub mail_nickname: String,
    pub description: Option<String>,
    pub created_at: OffsetDateTime,
}

/// A direct member of a group: a user, a group or a service principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub group_id: ObjectId,
    pub member_id: ObjectId,
    pub member_type: PrincipalType,
    pub created_at: OffsetDateTime,
}

// -- end of directory sessions, groups --

// -- role definitions (#3) --

/// A custom role definition (ARM `Microsoft.Authorization/roleDefinitions`
/// with `type: CustomRole`). Built-in roles live in `acrylic-authz` and are
/// never stored. Role names are unique within a tenant, compared
/// case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDefinitionRecord {
    pub id: uuid::Uuid,
    pub tenant_id: TenantId,
    pub name: String,
    pub description: String,
    pub actions: Vec<String>,
    pub not_actions: Vec<String>,
    pub data_actions: Vec<String>,
    pub not_data_actions: Vec<String>,
    pub assignable_scopes: Vec<ArmScope>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

// -- end of role definitions --

// -- scope maps and repository tokens (#4) --

/// A user-defined scope map of a registry (acr-auth.md §6.4). The system
/// scope maps exist in every registry and are defined by the server, never
/// stored. Names are unique per registry, compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeMapRecord {
    pub registry_id: RegistryId,
    /// As given (5–50 of `[a-zA-Z0-9-_]`, checked by the server).
    pub name: String,
    pub description: Option<String>,
    /// `repositories/<repo>/<action>` strings, validated by the server.
    pub actions: Vec<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Which of a token's two password slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPasswordName {
    Password1,
    Password2,
}

impl TokenPasswordName {
    pub const ALL: [TokenPasswordName; 2] = [Self::Password1, Self::Password2];

    /// `password1` / `password2`, as ARM names them.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password1 => "password1",
            Self::Password2 => "password2",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// One password of a repository token. The value is shown once, when it is
/// generated, and never kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPassword {
    /// argon2id PHC string; never the password.
    pub hash: String,
    pub created_at: OffsetDateTime,
    /// The password stops authenticating at this instant.
    pub expiry: Option<OffsetDateTime>,
}

/// A repository-scoped token of a registry (acr-auth.md §6.4): not a
/// directory identity; its username is its name. Names are unique per
/// registry, compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryTokenRecord {
    pub registry_id: RegistryId,
    /// As given (5–50 of `[a-zA-Z0-9-]`, checked by the server).
    pub name: String,
    /// The name of its one scope map.
    pub scope_map: String,
    /// Whether `scope_map` names a system scope map (not stored); a
    /// user-defined one must exist, and cannot be deleted while in use.
    pub system_scope_map: bool,
    pub enabled: bool,
    pub password1: Option<TokenPassword>,
    pub password2: Option<TokenPassword>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl RepositoryTokenRecord {
    pub fn password(&self, which: TokenPasswordName) -> Option<&TokenPassword> {
        match which {
            TokenPasswordName::Password1 => self.password1.as_ref(),
            TokenPasswordName::Password2 => self.password2.as_ref(),
        }
    }
}

// -- end of scope maps and repository tokens --

// -- applications and service principals (#4) --

/// Who may sign in to an application (Graph `signInAudience`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInAudience {
    /// `AzureADMyOrg`: only its home tenant.
    SingleTenant,
    /// `AzureADMultipleOrgs`: any tenant where its service principal is
    /// provisioned (the consent step).
    MultiTenant,
}

impl SignInAudience {
    /// Graph's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SingleTenant => "AzureADMyOrg",
            Self::MultiTenant => "AzureADMultipleOrgs",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "AzureADMyOrg" => Some(Self::SingleTenant),
            "AzureADMultipleOrgs" => Some(Self::MultiTenant),
            _ => None,
        }
    }
}

/// An application registration (Graph `application`): one per app, in its
/// home tenant; its credentials sign it in wherever it has a service
/// principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    /// The application object's id.
    pub id: ObjectId,
    /// The client id (`appId`), unique server-wide.
    pub app_id: uuid::Uuid,
    /// The home tenant.
    pub tenant_id: TenantId,
    pub display_name: String,
    pub sign_in_audience: SignInAudience,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A service principal: an application's identity in one tenant (the
/// principal role assignments name). At most one per app and tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePrincipal {
    pub id: ObjectId,
    pub app_id: uuid::Uuid,
    pub tenant_id: TenantId,
    pub display_name: String,
    /// `accountEnabled`: a disabled service principal gets no tokens.
    pub enabled: bool,
    pub created_at: OffsetDateTime,
}

/// What an application credential is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppCredentialKind {
    /// A client secret (Graph `passwordCredential`): only its argon2id PHC
    /// hash is kept; the value is shown once.
    Password { hash: String },
    /// A certificate's public part (Graph `keyCredential`, type
    /// `AsymmetricX509Cert`): client assertions signed with its key are
    /// accepted.
    Certificate {
        /// The DER X.509 certificate.
        der: Vec<u8>,
        /// Lowercase hex SHA-1 of `der` (JWT `x5t`, Graph's
        /// `customKeyIdentifier`).
        sha1: String,
        /// Lowercase hex SHA-256 of `der` (JWT `x5t#S256`).
        sha256: String,
    },
}

/// One credential of an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppCredential {
    /// Graph `keyId`, unique server-wide.
    pub key_id: uuid::Uuid,
    /// The application object's id.
    pub application_id: ObjectId,
    pub kind: AppCredentialKind,
    pub display_name: Option<String>,
    /// The first three characters of a secret (Graph `hint`).
    pub hint: Option<String>,
    /// Not usable before this instant.
    pub start_at: OffsetDateTime,
    /// Not usable from this instant on.
    pub end_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
}

/// A federated identity credential: tokens of an external OIDC issuer with
/// this subject and audience sign the application in (Graph
/// `federatedIdentityCredential`). Names are unique per application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatedCredential {
    pub id: uuid::Uuid,
    /// The application object's id.
    pub application_id: ObjectId,
    pub name: String,
    /// Compared exactly with the token's `iss`.
    pub issuer: String,
    /// Compared exactly with the token's `sub`.
    pub subject: String,
    /// The token's `aud` must contain one of these.
    pub audiences: Vec<String>,
    pub description: Option<String>,
    pub created_at: OffsetDateTime,
}

// -- end of applications and service principals --

// -- resources, managed identities, clusters (#5) --

/// A managed identity: a service-principal-like directory object that a
/// resource obtains tokens as (acr-auth.md §5.3–5.4). System-assigned ones
/// belong to one resource and go with it; user-assigned ones are ARM
/// resources of their own (`Microsoft.ManagedIdentity/userAssignedIdentities`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedIdentity {
    /// The object id (`principalId`, the token's `oid`).
    pub principal_id: ObjectId,
    /// The client id (the token's `appid`), unique server-wide.
    pub client_id: uuid::Uuid,
    pub tenant_id: TenantId,
    /// User-assigned: its own ARM id; system-assigned: its resource's id.
    /// Either way the token's `xms_mirid`. Unique, case-insensitively.
    pub resource_id: ArmScope,
    pub subscription_id: SubscriptionId,
    pub resource_group: ResourceGroupName,
    /// The identity's name (system-assigned: its resource's name).
    pub name: String,
    pub location: String,
    pub system_assigned: bool,
    pub created_at: OffsetDateTime,
}

/// A compute resource that can carry managed identities (a web app, a
/// function app, a container group, a VM, a cluster, …). Ids are unique,
/// compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputeResource {
    /// The ARM resource id.
    pub id: ArmScope,
    pub tenant_id: TenantId,
    pub subscription_id: SubscriptionId,
    pub resource_group: ResourceGroupName,
    pub name: String,
    /// The server's kind name (`webapp`, `vm`, `aks`, …).
    pub kind: String,
    pub location: String,
    /// The system-assigned identity's principal id, if it has one.
    pub system_identity: Option<ObjectId>,
    /// Kind-specific settings as a JSON object, owned by the server.
    pub properties: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

// -- end of resources, managed identities, clusters --

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

    // -- ACR metadata: changeable attributes and detailed listings --
    /// The attributes of a repository, tag or manifest, if it exists.
    async fn find_attributes(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        target: AttributeTarget<'_>,
    ) -> Result<Option<ChangeableAttributes>>;
    /// Replaces the attributes and stamps the object's update time with
    /// `at`; false when it does not exist.
    async fn set_attributes(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        target: AttributeTarget<'_>,
        attributes: &ChangeableAttributes,
        at: OffsetDateTime,
    ) -> Result<bool>;
    async fn find_repository_detail(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
    ) -> Result<Option<RepositoryDetail>>;
    /// Repository names in lexical order, leaving out those whose
    /// `list_enabled` is false.
    async fn list_listed_repositories(
        &self,
        reg: &RegistryId,
        page: &Page,
    ) -> Result<Vec<RepositoryName>>;
    async fn find_tag_detail(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        tag: &Tag,
    ) -> Result<Option<TagDetail>>;
    async fn list_tag_details(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        query: &TagQuery,
    ) -> Result<Vec<TagDetail>>;
    async fn find_manifest_detail(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        digest: &Digest,
    ) -> Result<Option<ManifestDetail>>;
    async fn list_manifest_details(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        query: &ManifestQuery,
    ) -> Result<Vec<ManifestDetail>>;
    /// The tags pointing at any of `digests` (one query for a page of
    /// manifests), by name; only listed ones if `listed_only`.
    async fn tags_of_manifests(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        digests: &[Digest],
        listed_only: bool,
    ) -> Result<Vec<TagRecord>>;
    /// Records what a pushed image manifest's config says; false when the
    /// manifest does not exist.
    async fn set_manifest_config(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        digest: &Digest,
        config: &ManifestConfig,
    ) -> Result<bool>;

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

    // -- token exchange (exchange, #3) --
    /// A registry's `policies.azureADAuthenticationAsArmPolicy` (acr-auth.md
    /// §2.1): `true` (enabled, the default) when `/oauth2/exchange` accepts
    /// directory tokens with an ARM audience; `None` when the registry does
    /// not exist.
    async fn find_aad_auth_as_arm_policy(&self, reg: &RegistryId) -> Result<Option<bool>>;
    /// Sets that policy (ARM PATCH `properties.policies`); `NotFound` when
    /// the registry does not exist.
    async fn set_aad_auth_as_arm_policy(&self, reg: &RegistryId, enabled: bool) -> Result<()>;

    // -- directory sessions, groups (#3) --
    /// `Conflict` if the hash is taken (a random token never repeats).
    async fn insert_directory_session(&self, s: &DirectorySession) -> Result<()>;
    async fn find_directory_session(&self, token_hash: &str) -> Result<Option<DirectorySession>>;
    /// Marks the session used at `at` if it was unused; returns whether
    /// this call did (of two racing redemptions exactly one wins).
    async fn mark_directory_session_used(
        &self,
        token_hash: &str,
        at: OffsetDateTime,
    ) -> Result<bool>;
    /// Deletes every token of a family; returns how many.
    async fn delete_directory_session_family(&self, family: &uuid::Uuid) -> Result<u64>;
    /// Deletes every token of a user (sign-out everywhere, disable, delete).
    async fn delete_directory_sessions_of_user(&self, user: &ObjectId) -> Result<u64>;
    /// Deletes tokens that expired before `before`.
    async fn delete_expired_directory_sessions(&self, before: OffsetDateTime) -> Result<u64>;

    /// `Conflict` if the device code or user code is taken.
    async fn insert_device_code(&self, d: &DeviceCode) -> Result<()>;
    async fn find_device_code(&self, device_code_hash: &str) -> Result<Option<DeviceCode>>;
    async fn find_device_code_by_user_code(
        &self,
        user_code_hash: &str,
    ) -> Result<Option<DeviceCode>>;
    /// Records a poll at `at` and the interval from now on; false when the
    /// code does not exist.
    async fn record_device_code_poll(
        &self,
        device_code_hash: &str,
        at: OffsetDateTime,
        interval_secs: u32,
    ) -> Result<bool>;
    /// Approves or denies a pending, unexpired code (as of `at`) on behalf
    /// of `user`; false when it is not pending or has expired.
    async fn decide_device_code(
        &self,
        device_code_hash: &str,
        approved: bool,
        user: &ObjectId,
        at: OffsetDateTime,
    ) -> Result<bool>;
    /// Deletes an approved code; returns whether this call did (a code is
    /// redeemed once).
    async fn redeem_device_code(&self, device_code_hash: &str) -> Result<bool>;
    async fn delete_expired_device_codes(&self, before: OffsetDateTime) -> Result<u64>;

    /// `Conflict` if the id is taken.
    async fn create_group(&self, g: &Group) -> Result<()>;
    async fn find_group(&self, id: &ObjectId) -> Result<Option<Group>>;
    /// The tenant's groups by display name (case-insensitive), then id.
    async fn list_groups(&self, tenant: &TenantId) -> Result<Vec<Group>>;
    /// Deletes a group with its member list and its own memberships in
    /// other groups.
    async fn delete_group(&self, id: &ObjectId) -> Result<bool>;
    /// Adds a direct member; false if it already is one; `NotFound` when
    /// the group does not exist.
    async fn add_group_member(&self, m: &GroupMember) -> Result<bool>;
    async fn remove_group_member(&self, group: &ObjectId, member: &ObjectId) -> Result<bool>;
    /// Direct members, in the order they were added.
    async fn list_group_members(&self, group: &ObjectId) -> Result<Vec<GroupMember>>;
    /// The groups `member` is a DIRECT member of (callers compute
    /// transitive membership, guarding against cycles).
    async fn list_groups_of(&self, member: &ObjectId) -> Result<Vec<ObjectId>>;
    /// Removes an object from every group (it was deleted); returns how
    /// many memberships went.
    async fn remove_from_all_groups(&self, member: &ObjectId) -> Result<u64>;
    /// Drops a signing key: tokens it signed stop verifying (the last step
    /// of a rotation).
    async fn delete_signing_key(&self, kid: &str) -> Result<bool>;

    // -- role definitions (#3) --
    /// `Conflict` when the id is taken or the tenant already has a role of
    /// that name (case-insensitively).
    async fn create_role_definition(&self, d: &RoleDefinitionRecord) -> Result<()>;
    /// Replaces name, description, permissions, assignable scopes and
    /// `updated_at`; `NotFound` when absent, `Conflict` when another role
    /// of the tenant has the new name.
    async fn update_role_definition(&self, d: &RoleDefinitionRecord) -> Result<()>;
    async fn find_role_definition(&self, id: &uuid::Uuid) -> Result<Option<RoleDefinitionRecord>>;
    /// By name within a tenant, case-insensitively.
    async fn find_role_definition_by_name(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<Option<RoleDefinitionRecord>>;
    /// The tenant's custom roles, by name.
    async fn list_role_definitions(&self, tenant: &TenantId) -> Result<Vec<RoleDefinitionRecord>>;
    async fn delete_role_definition(&self, id: &uuid::Uuid) -> Result<bool>;
    async fn find_role_assignment(&self, id: &uuid::Uuid) -> Result<Option<RoleAssignment>>;
    /// Assignments whose scope is exactly one of `scopes` (compared
    /// case-insensitively): a scope and its ancestors give ARM's
    /// `atScope()`.
    async fn list_role_assignments_at(&self, scopes: &[ArmScope]) -> Result<Vec<RoleAssignment>>;
    /// Assignments of one role definition (a role in use is not deleted).
    async fn list_role_assignments_of_role(&self, role: &uuid::Uuid)
    -> Result<Vec<RoleAssignment>>;

    // -- scope maps and repository tokens (#4) --
    /// `Conflict` when the registry has a scope map of that name
    /// (case-insensitively); `NotFound` when the registry does not exist.
    async fn create_scope_map(&self, m: &ScopeMapRecord) -> Result<()>;
    /// Replaces the description, actions and `updated_at`; `NotFound` when
    /// absent.
    async fn update_scope_map(&self, m: &ScopeMapRecord) -> Result<()>;
    /// By name, case-insensitively.
    async fn find_scope_map(&self, reg: &RegistryId, name: &str) -> Result<Option<ScopeMapRecord>>;
    /// The registry's user-defined scope maps, by name (case-insensitively).
    async fn list_scope_maps(&self, reg: &RegistryId) -> Result<Vec<ScopeMapRecord>>;
    /// `Conflict` while a token uses it; false when it does not exist.
    async fn delete_scope_map(&self, reg: &RegistryId, name: &str) -> Result<bool>;
    /// `Conflict` when the registry has a token of that name
    /// (case-insensitively); `NotFound` when the registry, or the
    /// user-defined scope map the token names, does not exist.
    async fn create_repository_token(&self, t: &RepositoryTokenRecord) -> Result<()>;
    /// Replaces the scope map, status and `updated_at` — not the passwords
    /// ([`MetaStore::set_repository_token_password`]); `NotFound` when the
    /// token, or the user-defined scope map it names, does not exist.
    async fn update_repository_token(&self, t: &RepositoryTokenRecord) -> Result<()>;
    /// Sets (or with `None` removes) one password and stamps `updated_at`
    /// with `at`; `NotFound` when the token does not exist.
    async fn set_repository_token_password(
        &self,
        reg: &RegistryId,
        name: &str,
        which: TokenPasswordName,
        password: Option<&TokenPassword>,
        at: OffsetDateTime,
    ) -> Result<()>;
    /// By name, case-insensitively.
    async fn find_repository_token(
        &self,
        reg: &RegistryId,
        name: &str,
    ) -> Result<Option<RepositoryTokenRecord>>;
    /// The registry's tokens, by name (case-insensitively).
    async fn list_repository_tokens(&self, reg: &RegistryId) -> Result<Vec<RepositoryTokenRecord>>;
    async fn delete_repository_token(&self, reg: &RegistryId, name: &str) -> Result<bool>;

    // -- applications and service principals (#4) --
    /// `Conflict` when the object id or the `appId` is taken.
    async fn create_application(&self, a: &Application) -> Result<()>;
    async fn find_application(&self, id: &ObjectId) -> Result<Option<Application>>;
    async fn find_application_by_app_id(&self, app_id: &uuid::Uuid) -> Result<Option<Application>>;
    /// The tenant's applications by display name (case-insensitive), then id.
    async fn list_applications(&self, tenant: &TenantId) -> Result<Vec<Application>>;
    /// Replaces display name, sign-in audience and `updated_at`;
    /// `NotFound` when absent.
    async fn update_application(&self, a: &Application) -> Result<()>;
    /// Deletes the application with its credentials and federated
    /// credentials (not its service principals: callers delete those, with
    /// their role assignments and memberships, first).
    async fn delete_application(&self, id: &ObjectId) -> Result<bool>;

    /// `Conflict` when the id is taken or the app already has a service
    /// principal in the tenant.
    async fn create_service_principal(&self, sp: &ServicePrincipal) -> Result<()>;
    async fn find_service_principal(&self, id: &ObjectId) -> Result<Option<ServicePrincipal>>;
    /// The app's service principal in `tenant`.
    async fn find_service_principal_by_app(
        &self,
        app_id: &uuid::Uuid,
        tenant: &TenantId,
    ) -> Result<Option<ServicePrincipal>>;
    /// The tenant's service principals by display name (case-insensitive), then id.
    async fn list_service_principals(&self, tenant: &TenantId) -> Result<Vec<ServicePrincipal>>;
    /// Every tenant's service principal of one app.
    async fn list_service_principals_of_app(
        &self,
        app_id: &uuid::Uuid,
    ) -> Result<Vec<ServicePrincipal>>;
    /// Replaces display name and `enabled`; `NotFound` when absent.
    async fn update_service_principal(&self, sp: &ServicePrincipal) -> Result<()>;
    async fn delete_service_principal(&self, id: &ObjectId) -> Result<bool>;

    /// `Conflict` when the key id is taken; `NotFound` when the application
    /// does not exist.
    async fn add_app_credential(&self, c: &AppCredential) -> Result<()>;
    /// In one transaction: deletes every client secret of `c`'s
    /// application, then adds `c` (`credential reset` without `--append`).
    /// Returns how many secrets went.
    async fn replace_app_passwords(&self, c: &AppCredential) -> Result<u64>;
    /// The application's credentials, soonest end first, then by key id.
    async fn list_app_credentials(&self, application: &ObjectId) -> Result<Vec<AppCredential>>;
    async fn delete_app_credential(
        &self,
        application: &ObjectId,
        key_id: &uuid::Uuid,
    ) -> Result<bool>;
    /// The soonest credential end of every application that has
    /// credentials: `(appId, end)`, by `appId`.
    async fn list_soonest_credential_ends(&self) -> Result<Vec<(uuid::Uuid, OffsetDateTime)>>;

    /// `Conflict` when the id is taken or the application has a federated
    /// credential of that name; `NotFound` when the application does not exist.
    async fn create_federated_credential(&self, f: &FederatedCredential) -> Result<()>;
    /// The application's federated credentials, by name.
    async fn list_federated_credentials(
        &self,
        application: &ObjectId,
    ) -> Result<Vec<FederatedCredential>>;
    async fn delete_federated_credential(
        &self,
        application: &ObjectId,
        id: &uuid::Uuid,
    ) -> Result<bool>;

    /// Records a client assertion's replay key (e.g. a digest of its issuer
    /// and `jti`) until `expires_at`; false when it was already recorded —
    /// a replay, seen by every replica sharing the store.
    async fn record_assertion_jti(&self, key: &str, expires_at: OffsetDateTime) -> Result<bool>;
    /// Forgets replay keys that expired before `before`.
    async fn delete_expired_assertion_jtis(&self, before: OffsetDateTime) -> Result<u64>;

    // -- resources, managed identities, clusters (#5) --
    /// `Conflict` when the principal id, client id or resource id is taken.
    async fn create_managed_identity(&self, mi: &ManagedIdentity) -> Result<()>;
    async fn find_managed_identity(
        &self,
        principal_id: &ObjectId,
    ) -> Result<Option<ManagedIdentity>>;
    async fn find_managed_identity_by_client_id(
        &self,
        client_id: &uuid::Uuid,
    ) -> Result<Option<ManagedIdentity>>;
    /// By resource id, case-insensitively (a user-assigned identity's own
    /// id, or the resource a system-assigned one belongs to).
    async fn find_managed_identity_by_resource_id(
        &self,
        resource_id: &ArmScope,
    ) -> Result<Option<ManagedIdentity>>;
    /// User-assigned identities of a subscription, or of one of its
    /// resource groups, by name (case-insensitively), then principal id.
    async fn list_user_assigned_identities(
        &self,
        sub: &SubscriptionId,
        rg: Option<&ResourceGroupName>,
    ) -> Result<Vec<ManagedIdentity>>;
    /// Deletes the identity and its attachments to resources; `Conflict`
    /// while a resource has it as its system-assigned identity. Callers
    /// delete its role assignments.
    async fn delete_managed_identity(&self, principal_id: &ObjectId) -> Result<bool>;

    /// `Conflict` when the id is taken; `NotFound` when its system
    /// identity does not exist.
    async fn create_compute_resource(&self, r: &ComputeResource) -> Result<()>;
    /// By id, case-insensitively.
    async fn find_compute_resource(&self, id: &ArmScope) -> Result<Option<ComputeResource>>;
    /// Resources of a subscription, or of one of its resource groups, by
    /// name (case-insensitively), then id.
    async fn list_compute_resources(
        &self,
        sub: &SubscriptionId,
        rg: Option<&ResourceGroupName>,
    ) -> Result<Vec<ComputeResource>>;
    /// Replaces location, system identity, properties and `updated_at`;
    /// `NotFound` when the resource (or the new system identity) does not
    /// exist.
    async fn update_compute_resource(&self, r: &ComputeResource) -> Result<()>;
    /// Deletes the resource and its identity attachments (not the
    /// identities: callers delete its system-assigned one after it).
    async fn delete_compute_resource(&self, id: &ArmScope) -> Result<bool>;
    /// Attaches a user-assigned identity to a resource; false when it
    /// already is; `NotFound` when either does not exist.
    async fn attach_identity(
        &self,
        resource: &ArmScope,
        identity: &ObjectId,
        at: OffsetDateTime,
    ) -> Result<bool>;
    async fn detach_identity(&self, resource: &ArmScope, identity: &ObjectId) -> Result<bool>;
    /// The user-assigned identities attached to a resource, by name
    /// (case-insensitively), then principal id.
    async fn list_attached_identities(&self, resource: &ArmScope) -> Result<Vec<ManagedIdentity>>;
    /// The ids of the resources a user-assigned identity is attached to.
    async fn list_resources_of_identity(&self, identity: &ObjectId) -> Result<Vec<ArmScope>>;
}
