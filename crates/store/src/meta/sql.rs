//! The SQL adapter of [`MetaStore`]: one implementation over sqlx's `Any`
//! driver serving SQLite (the embedded default) and PostgreSQL (scale-out).
//!
//! Each backend has its own migration set (`migrations/sqlite`,
//! `migrations/postgres`) with the same tables and columns; the queries here
//! are the common subset both understand. `Any` binds only bools, integers,
//! floats, text and bytes, so times are epoch milliseconds, booleans are
//! 0/1 and ids are text. Every statement is a `&'static str`; the two places
//! that build SQL (`IN` lists of placeholders) say so.
//!
//! Case-insensitive keys (UPN, tenant domain, resource group, ARM scope) are
//! kept in a lowercased `*_lower` column beside the value as given.

use std::time::Duration;

use acrylic_model::{
    ArmScope, Digest, InvalidName, ObjectId, RegistryId, RegistryName, RepositoryName,
    ResourceGroupName, SubscriptionId, Tag, TenantId, UploadId,
};
use async_trait::async_trait;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Row, Transaction};
use time::OffsetDateTime;

use super::{
    AttributeTarget, AuditFilter, AuditRecord, ChangeableAttributes, ListOrder, ManifestConfig,
    ManifestDetail, ManifestQuery, ManifestRecord, MetaStore, Page, PrincipalType, Registry,
    RepositoryDetail, RepositoryRecord, ResourceGroup, Result, RoleAssignment, RoleAssignmentMode,
    SigningKey, StoreError, Subscription, TagDetail, TagQuery, TagRecord, Tenant, UploadRecord,
    User,
};

// The directory's sessions, device codes and groups (#3).
mod directory;
// Custom role definitions and role-assignment lookups (#3).
mod rbac;
// Scope maps and repository-scoped tokens (#4).
mod repo_tokens;
// Applications, service principals and their credentials (#4).
mod apps;
// Compute resources, managed identities and clusters (#5).
mod identities;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// `list_audit` returns at most this many records unless the filter asks
/// for fewer or more.
const DEFAULT_AUDIT_LIMIT: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// The SQL metadata store (SQLite or PostgreSQL). Cheap to clone: clones
/// share one connection pool.
#[derive(Debug, Clone)]
pub struct SqlMetaStore {
    pool: AnyPool,
    backend: Backend,
}

impl SqlMetaStore {
    /// Connects to `sqlite://<path>?mode=rwc` or `postgres://…` and brings
    /// the schema up to date. Several replicas may do this at once:
    /// PostgreSQL migrations run under sqlx's advisory lock.
    pub async fn connect(url: &str) -> Result<SqlMetaStore> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Backend(
                "unsupported metadata store URL: expected sqlite:// or postgres://".into(),
            ));
        };
        let options: AnyConnectOptions = url.parse().map_err(backend_err)?;
        let pool = match backend {
            Backend::Sqlite => {
                // An in-memory database lives and dies with its one connection.
                let in_memory = url.contains(":memory:") || url.contains("mode=memory");
                let pool_options = if in_memory {
                    AnyPoolOptions::new()
                        .max_connections(1)
                        .min_connections(1)
                        .idle_timeout(None)
                        .max_lifetime(None)
                } else {
                    AnyPoolOptions::new().max_connections(8)
                };
                pool_options
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            // WAL lets readers run beside the one writer; FULL
                            // makes a commit durable before it returns; the busy
                            // timeout makes writers queue instead of failing.
                            conn.execute("PRAGMA journal_mode=WAL").await?;
                            conn.execute("PRAGMA synchronous=FULL").await?;
                            conn.execute("PRAGMA foreign_keys=ON").await?;
                            conn.execute("PRAGMA busy_timeout=5000").await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await
                    .map_err(backend_err)?
            }
            Backend::Postgres => AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .map_err(backend_err)?,
        };
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        // SQLite has no advisory lock: two processes starting on one file
        // can both try a migration; the loser fails ("table … already
        // exists") once the winner commits. Running again then finds the
        // migration applied, so a few attempts settle it.
        let attempts = match backend {
            Backend::Sqlite => 5,
            Backend::Postgres => 1,
        };
        let mut attempt = 1;
        loop {
            match migrator.run(&pool).await {
                Ok(()) => break,
                Err(e) if attempt < attempts => {
                    tracing::debug!(error = %e, attempt, "migration raced another process; retrying");
                    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(backend_err(e)),
            }
        }
        Ok(Self { pool, backend })
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// Closes every pooled connection (graceful shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a write transaction. SQLite gets `BEGIN IMMEDIATE` so the write
    /// lock is taken up front (waiting on busy_timeout) rather than failing
    /// with SQLITE_BUSY when a read transaction tries to upgrade.
    async fn begin(&self) -> Result<Transaction<'static, Any>> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
        .map_err(backend_err)
    }
}

// ---- conversions -----------------------------------------------------------

fn backend_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Maps a failed write: a unique violation is a `Conflict` on `taken`, a
/// foreign-key violation means `parent` does not exist.
fn write_err(e: sqlx::Error, taken: &str, parent: &str) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return StoreError::Conflict {
                what: taken.to_owned(),
            };
        }
        if db.is_foreign_key_violation() {
            return StoreError::NotFound {
                what: parent.to_owned(),
            };
        }
    }
    backend_err(e)
}

fn millis(t: OffsetDateTime) -> i64 {
    // i128 nanoseconds / 1e6 fits i64 for every representable date.
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000_000)).unwrap_or(i64::MAX)
}

fn from_millis(ms: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).map_err(backend_err)
}

fn to_i64(n: u64) -> Result<i64> {
    i64::try_from(n).map_err(|_| StoreError::Backend(format!("{n} does not fit a BIGINT")))
}

fn page_limit(page: &Page) -> i64 {
    page.n.map_or(i64::MAX, i64::from)
}

fn flag(b: bool) -> i64 {
    i64::from(b)
}

fn col_str(row: &AnyRow, col: &str) -> Result<String> {
    row.try_get::<String, _>(col).map_err(backend_err)
}

fn col_opt_str(row: &AnyRow, col: &str) -> Result<Option<String>> {
    row.try_get::<Option<String>, _>(col).map_err(backend_err)
}

fn col_i64(row: &AnyRow, col: &str) -> Result<i64> {
    row.try_get::<i64, _>(col).map_err(backend_err)
}

fn col_u64(row: &AnyRow, col: &str) -> Result<u64> {
    let v = col_i64(row, col)?;
    u64::try_from(v).map_err(|_| StoreError::Backend(format!("negative {col} in the database")))
}

fn col_bool(row: &AnyRow, col: &str) -> Result<bool> {
    Ok(col_i64(row, col)? != 0)
}

fn col_bytes(row: &AnyRow, col: &str) -> Result<Vec<u8>> {
    row.try_get::<Vec<u8>, _>(col).map_err(backend_err)
}

fn col_time(row: &AnyRow, col: &str) -> Result<OffsetDateTime> {
    from_millis(col_i64(row, col)?)
}

fn col_opt_time(row: &AnyRow, col: &str) -> Result<Option<OffsetDateTime>> {
    row.try_get::<Option<i64>, _>(col)
        .map_err(backend_err)?
        .map(from_millis)
        .transpose()
}

/// Parses a stored value back into its model type; a failure means the
/// row was corrupted outside acrylic.
fn col_parse<T>(
    row: &AnyRow,
    col: &str,
    parse: impl FnOnce(&str) -> Result<T, InvalidName>,
) -> Result<T> {
    let s = col_str(row, col)?;
    parse(&s).map_err(|e| StoreError::Backend(format!("column {col}: {e}")))
}

fn col_opt_parse<T>(
    row: &AnyRow,
    col: &str,
    parse: impl FnOnce(&str) -> Result<T, InvalidName>,
) -> Result<Option<T>> {
    col_opt_str(row, col)?
        .map(|s| parse(&s).map_err(|e| StoreError::Backend(format!("column {col}: {e}"))))
        .transpose()
}

fn col_uuid(row: &AnyRow, col: &str) -> Result<uuid::Uuid> {
    let s = col_str(row, col)?;
    uuid::Uuid::parse_str(&s).map_err(|e| StoreError::Backend(format!("column {col}: {e}")))
}

fn uuid_text(id: &uuid::Uuid) -> String {
    id.hyphenated().to_string()
}

fn tenant_row(row: &AnyRow) -> Result<Tenant> {
    Ok(Tenant {
        id: col_parse(row, "id", TenantId::parse)?,
        domain: col_str(row, "domain")?,
        display_name: col_str(row, "display_name")?,
        created_at: col_time(row, "created_at")?,
    })
}

fn subscription_row(row: &AnyRow) -> Result<Subscription> {
    Ok(Subscription {
        id: col_parse(row, "id", SubscriptionId::parse)?,
        tenant_id: col_parse(row, "tenant_id", TenantId::parse)?,
        display_name: col_str(row, "display_name")?,
        created_at: col_time(row, "created_at")?,
    })
}

fn resource_group_row(row: &AnyRow) -> Result<ResourceGroup> {
    Ok(ResourceGroup {
        subscription_id: col_parse(row, "subscription_id", SubscriptionId::parse)?,
        name: col_parse(row, "name", ResourceGroupName::parse)?,
        location: col_str(row, "location")?,
        created_at: col_time(row, "created_at")?,
    })
}

fn user_row(row: &AnyRow) -> Result<User> {
    Ok(User {
        id: col_parse(row, "id", ObjectId::parse)?,
        tenant_id: col_parse(row, "tenant_id", TenantId::parse)?,
        upn: col_str(row, "upn")?,
        display_name: col_str(row, "display_name")?,
        password_hash: col_str(row, "password_hash")?,
        enabled: col_bool(row, "enabled")?,
        sessions_valid_after: col_time(row, "sessions_valid_after")?,
        created_at: col_time(row, "created_at")?,
    })
}

fn role_assignment_row(row: &AnyRow) -> Result<RoleAssignment> {
    let principal_type = col_str(row, "principal_type")?;
    Ok(RoleAssignment {
        id: col_uuid(row, "id")?,
        scope: col_parse(row, "scope", ArmScope::parse)?,
        role_definition_id: col_uuid(row, "role_definition_id")?,
        principal_id: col_parse(row, "principal_id", ObjectId::parse)?,
        principal_type: PrincipalType::parse(&principal_type).ok_or_else(|| {
            StoreError::Backend(format!("unknown principal type {principal_type:?}"))
        })?,
        condition: col_opt_str(row, "abac_condition")?,
        created_at: col_time(row, "created_at")?,
    })
}

fn signing_key_row(row: &AnyRow) -> Result<SigningKey> {
    Ok(SigningKey {
        kid: col_str(row, "kid")?,
        algorithm: col_str(row, "algorithm")?,
        purpose: col_str(row, "purpose")?,
        tenant_id: col_opt_parse(row, "tenant_id", TenantId::parse)?,
        sealed_private_key: col_bytes(row, "sealed_private_key")?,
        created_at: col_time(row, "created_at")?,
        active_from: col_time(row, "active_from")?,
        retired_at: col_opt_time(row, "retired_at")?,
    })
}

fn registry_row(row: &AnyRow) -> Result<Registry> {
    let mode = col_str(row, "role_assignment_mode")?;
    Ok(Registry {
        id: col_parse(row, "id", RegistryId::parse)?,
        name: col_parse(row, "name", RegistryName::parse)?,
        tenant_id: col_parse(row, "tenant_id", TenantId::parse)?,
        subscription_id: col_parse(row, "subscription_id", SubscriptionId::parse)?,
        resource_group: col_parse(row, "resource_group", ResourceGroupName::parse)?,
        location: col_str(row, "location")?,
        sku: col_str(row, "sku")?,
        login_server: col_str(row, "login_server")?,
        admin_enabled: col_bool(row, "admin_enabled")?,
        admin_password1_sealed: col_bytes(row, "admin_password1_sealed")?,
        admin_password2_sealed: col_bytes(row, "admin_password2_sealed")?,
        anonymous_pull_enabled: col_bool(row, "anonymous_pull_enabled")?,
        role_assignment_mode: RoleAssignmentMode::parse(&mode)
            .ok_or_else(|| StoreError::Backend(format!("unknown role assignment mode {mode:?}")))?,
        created_at: col_time(row, "created_at")?,
        updated_at: col_time(row, "updated_at")?,
    })
}

fn repository_row(row: &AnyRow) -> Result<RepositoryRecord> {
    Ok(RepositoryRecord {
        registry_id: col_parse(row, "registry_id", RegistryId::parse)?,
        name: col_parse(row, "name", RepositoryName::parse)?,
        created_at: col_time(row, "created_at")?,
        updated_at: col_time(row, "updated_at")?,
    })
}

fn manifest_row(row: &AnyRow) -> Result<ManifestRecord> {
    Ok(ManifestRecord {
        registry_id: col_parse(row, "registry_id", RegistryId::parse)?,
        repository: col_parse(row, "repository", RepositoryName::parse)?,
        digest: col_parse(row, "digest", Digest::parse)?,
        media_type: col_str(row, "media_type")?,
        size: col_u64(row, "size")?,
        artifact_type: col_opt_str(row, "artifact_type")?,
        subject: col_opt_parse(row, "subject", Digest::parse)?,
        annotations: col_opt_str(row, "annotations")?,
        created_at: col_time(row, "created_at")?,
    })
}

fn tag_row(row: &AnyRow) -> Result<TagRecord> {
    Ok(TagRecord {
        registry_id: col_parse(row, "registry_id", RegistryId::parse)?,
        repository: col_parse(row, "repository", RepositoryName::parse)?,
        name: col_parse(row, "name", Tag::parse)?,
        digest: col_parse(row, "digest", Digest::parse)?,
        created_at: col_time(row, "created_at")?,
        updated_at: col_time(row, "updated_at")?,
    })
}

fn upload_row(row: &AnyRow) -> Result<UploadRecord> {
    Ok(UploadRecord {
        id: col_parse(row, "id", UploadId::parse)?,
        registry_id: col_parse(row, "registry_id", RegistryId::parse)?,
        repository: col_parse(row, "repository", RepositoryName::parse)?,
        size: col_u64(row, "size")?,
        created_at: col_time(row, "created_at")?,
        updated_at: col_time(row, "updated_at")?,
    })
}

fn audit_row(row: &AnyRow) -> Result<AuditRecord> {
    Ok(AuditRecord {
        id: col_uuid(row, "id")?,
        at: col_time(row, "occurred_at")?,
        registry_id: col_opt_parse(row, "registry_id", RegistryId::parse)?,
        principal: col_str(row, "principal")?,
        action: col_str(row, "action")?,
        repository: col_opt_str(row, "repository")?,
        decision: col_str(row, "decision")?,
        client_addr: col_opt_str(row, "client_addr")?,
        detail: col_opt_str(row, "detail")?,
    })
}

fn attributes_row(row: &AnyRow) -> Result<ChangeableAttributes> {
    Ok(ChangeableAttributes {
        delete_enabled: col_bool(row, "delete_enabled")?,
        write_enabled: col_bool(row, "write_enabled")?,
        read_enabled: col_bool(row, "read_enabled")?,
        list_enabled: col_bool(row, "list_enabled")?,
    })
}

fn tag_detail_row(row: &AnyRow) -> Result<TagDetail> {
    Ok(TagDetail {
        record: tag_row(row)?,
        attributes: attributes_row(row)?,
    })
}

fn manifest_detail_row(row: &AnyRow) -> Result<ManifestDetail> {
    let record = manifest_row(row)?;
    Ok(ManifestDetail {
        updated_at: col_opt_time(row, "manifest_updated_at")?.unwrap_or(record.created_at),
        config: ManifestConfig {
            media_type: col_opt_str(row, "config_media_type")?,
            architecture: col_opt_str(row, "architecture")?,
            os: col_opt_str(row, "os")?,
        },
        attributes: attributes_row(row)?,
        record,
    })
}

fn rows<T>(rows: Vec<AnyRow>, f: impl Fn(&AnyRow) -> Result<T>) -> Result<Vec<T>> {
    rows.iter().map(f).collect()
}

// ---- statements shared by several methods ---------------------------------

/// The columns of a [`TagDetail`] (tag plus attributes).
macro_rules! tag_detail_columns {
    () => {
        "registry_id, repository, name, digest, created_at, updated_at, \
         delete_enabled, write_enabled, read_enabled, list_enabled"
    };
}

/// The columns of a [`ManifestDetail`]. `manifest_updated_at` is NULL
/// until the manifest's attributes change.
macro_rules! manifest_detail_columns {
    () => {
        "registry_id, repository, digest, media_type, size, artifact_type, subject, annotations, \
         created_at, updated_at AS manifest_updated_at, config_media_type, architecture, os, \
         delete_enabled, write_enabled, read_enabled, list_enabled"
    };
}

const UPSERT_REPOSITORY: &str = "INSERT INTO repositories (registry_id, name, created_at, updated_at) \
     VALUES ($1, $2, $3, $3) \
     ON CONFLICT (registry_id, name) DO UPDATE SET updated_at = excluded.updated_at";

const INSERT_REPOSITORY: &str = "INSERT INTO repositories (registry_id, name, created_at, updated_at) \
     VALUES ($1, $2, $3, $3) ON CONFLICT (registry_id, name) DO NOTHING";

const LINK_BLOB: &str = "INSERT INTO repository_blobs (registry_id, repository, digest, size, created_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (registry_id, repository, digest) DO NOTHING";

#[async_trait]
impl MetaStore for SqlMetaStore {
    async fn ping(&self) -> Result<()> {
        // Touches a migrated table, so "reachable but not migrated" fails too.
        sqlx::query("SELECT name FROM settings WHERE name = $1")
            .bind("")
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?;
        Ok(())
    }

    // -- settings --

    async fn find_setting(&self, key: &str) -> Result<Option<String>> {
        sqlx::query("SELECT value FROM settings WHERE name = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?
            .map(|r| col_str(&r, "value"))
            .transpose()
    }

    async fn insert_setting_if_absent(&self, key: &str, value: &str) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await
        .map_err(backend_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await
        .map_err(backend_err)?;
        Ok(())
    }

    // -- directory --

    async fn create_tenant(&self, t: &Tenant) -> Result<()> {
        sqlx::query(
            "INSERT INTO tenants (id, domain, domain_lower, display_name, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(t.id.to_string())
        .bind(&t.domain)
        .bind(t.domain.to_lowercase())
        .bind(&t.display_name)
        .bind(millis(t.created_at))
        .execute(&self.pool)
        .await
        .map_err(|e| {
            write_err(
                e,
                &format!("tenant {} or domain {}", t.id, t.domain),
                "tenant",
            )
        })?;
        Ok(())
    }

    async fn find_tenant(&self, id: &TenantId) -> Result<Option<Tenant>> {
        sqlx::query("SELECT id, domain, display_name, created_at FROM tenants WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?
            .map(|r| tenant_row(&r))
            .transpose()
    }

    async fn find_tenant_by_domain(&self, domain: &str) -> Result<Option<Tenant>> {
        sqlx::query(
            "SELECT id, domain, display_name, created_at FROM tenants WHERE domain_lower = $1",
        )
        .bind(domain.to_lowercase())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?
        .map(|r| tenant_row(&r))
        .transpose()
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let found = sqlx::query(
            "SELECT id, domain, display_name, created_at FROM tenants ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows(found, tenant_row)
    }

    async fn create_subscription(&self, s: &Subscription) -> Result<()> {
        sqlx::query(
            "INSERT INTO subscriptions (id, tenant_id, display_name, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(s.id.to_string())
        .bind(s.tenant_id.to_string())
        .bind(&s.display_name)
        .bind(millis(s.created_at))
        .execute(&self.pool)
        .await
        .map_err(|e| write_err(e, &format!("subscription {}", s.id), "tenant"))?;
        Ok(())
    }

    async fn find_subscription(&self, id: &SubscriptionId) -> Result<Option<Subscription>> {
        sqlx::query(
            "SELECT id, tenant_id, display_name, created_at FROM subscriptions WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?
        .map(|r| subscription_row(&r))
        .transpose()
    }

    async fn list_subscriptions(&self) -> Result<Vec<Subscription>> {
        let found = sqlx::query(
            "SELECT id, tenant_id, display_name, created_at FROM subscriptions ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows(found, subscription_row)
    }

    async fn put_resource_group(&self, g: &ResourceGroup) -> Result<()> {
        // ARM resource group names are case-insensitive: the first spelling
        // is kept, a later PUT in another case updates the same group.
        sqlx::query(
            "INSERT INTO resource_groups (subscription_id, name, name_lower, location, created_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (subscription_id, name_lower) DO UPDATE SET location = excluded.location",
        )
        .bind(g.subscription_id.to_string())
        .bind(g.name.as_str())
        .bind(g.name.as_str().to_lowercase())
        .bind(&g.location)
        .bind(millis(g.created_at))
        .execute(&self.pool)
        .await
        .map_err(|e| write_err(e, &format!("resource group {}", g.name), "subscription"))?;
        Ok(())
    }

    async fn find_resource_group(
        &self,
        sub: &SubscriptionId,
        name: &ResourceGroupName,
    ) -> Result<Option<ResourceGroup>> {
        sqlx::query(
            "SELECT subscription_id, name, location, created_at FROM resource_groups \
             WHERE subscription_id = $1 AND name_lower = $2",
        )
        .bind(sub.to_string())
        .bind(name.as_str().to_lowercase())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?
        .map(|r| resource_group_row(&r))
        .transpose()
    }

    async fn list_resource_groups(&self, sub: &SubscriptionId) -> Result<Vec<ResourceGroup>> {
        let found = sqlx::query(
            "SELECT subscription_id, name, location, created_at FROM resource_groups \
             WHERE subscription_id = $1 ORDER BY name_lower",
        )
        .bind(sub.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows(found, resource_group_row)
    }

    async fn create_user(&self, u: &User) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (id, tenant_id, upn, upn_lower, display_name, password_hash, enabled, \
             sessions_valid_after, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(u.id.to_string())
        .bind(u.tenant_id.to_string())
        .bind(&u.upn)
        .bind(u.upn.to_lowercase())
        .bind(&u.display_name)
        .bind(&u.password_hash)
        .bind(flag(u.enabled))
        .bind(millis(u.sessions_valid_after))
        .bind(millis(u.created_at))
        .execute(&self.pool)
        .await
        .map_err(|e| write_err(e, &format!("user {}", u.upn), "tenant"))?;
        Ok(())
    }

    async fn find_user(&self, id: &ObjectId) -> Result<Option<User>> {
        sqlx::query(
            "SELECT id, tenant_id, upn, display_name, password_hash, enabled, sessions_valid_after, \
             created_at FROM users WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?
        .map(|r| user_row(&r))
        .transpose()
    }

    async fn find_user_by_upn(&self, upn: &str) -> Result<Option<User>> {
        sqlx::query(
            "SELECT id, tenant_id, upn, display_name, password_hash, enabled, sessions_valid_after, \
             created_at FROM users WHERE upn_lower = $1",
        )
        .bind(upn.to_lowercase())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?
        .map(|r| user_row(&r))
        .transpose()
    }

    async fn list_users(&self, tenant: &TenantId) -> Result<Vec<User>> {
        let found = sqlx::query(
            "SELECT id, tenant_id, upn, display_name, password_hash, enabled, sessions_valid_after, \
             created_at FROM users WHERE tenant_id = $1 ORDER BY upn_lower",
        )
        .bind(tenant.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows(found, user_row)
    }

    async fn update_user(&self, u: &User) -> Result<()> {
        let done = sqlx::query(
            "UPDATE users SET tenant_id = $2, upn = $3, upn_lower = $4, display_name = $5, \
             password_hash = $6, enabled = $7, sessions_valid_after = $8 WHERE id = $1",
        )
        .bind(u.id.to_string())
        .bind(u.tenant_id.to_string())
        .bind(&u.upn)
        .bind(u.upn.to_lowercase())
        .bind(&u.display_name)
        .bind(&u.password_hash)
        .bind(flag(u.enabled))
        .bind(millis(u.sessions_valid_after))
        .execute(&self.pool)
        .await
        .map_err(|e| write_err(e, &format!("user {}", u.upn), "tenant"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: format!("user {}", u.id),
            });
        }
        Ok(())
    }

    async fn delete_user(&self, id: &ObjectId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        Ok(done.rows_affected() > 0)
    }

    // -- RBAC --

    async fn create_role_assignment(&self, a: &RoleAssignment) -> Result<()> {
        sqlx::query(
            "INSERT INTO role_assignments (id, scope, scope_lower, role_definition_id, principal_id, \
             principal_type, abac_condition, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(uuid_text(&a.id))
        .bind(a.scope.as_str())
        .bind(a.scope.as_str().to_ascii_lowercase())
        .bind(uuid_text(&a.role_definition_id))
        .bind(a.principal_id.to_string())
        .bind(a.principal_type.as_str())
        .bind(a.condition.as_deref())
        .bind(millis(a.created_at))
        .execute(&self.pool)
        .await
        .map_err(|e| write_err(e, &format!("role assignment {}", a.id), "scope"))?;
        Ok(())
    }

    async fn list_role_assignments_for(
        &self,
        principals: &[ObjectId],
    ) -> Result<Vec<RoleAssignment>> {
        let mut ids: Vec<String> = principals.iter().map(ToString::to_string).collect();
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // The only SQL built at run time: a list of numbered placeholders,
        // one per principal. No value is ever formatted into the text.
        let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT id, scope, role_definition_id, principal_id, principal_type, abac_condition, \
             created_at FROM role_assignments WHERE principal_id IN ({}) ORDER BY created_at, id",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(id);
        }
        let found = query.fetch_all(&self.pool).await.map_err(backend_err)?;
        rows(found, role_assignment_row)
    }

    async fn list_role_assignments_under(&self, scope: &ArmScope) -> Result<Vec<RoleAssignment>> {
        let found = if scope.as_str() == "/" {
            sqlx::query(
                "SELECT id, scope, role_definition_id, principal_id, principal_type, abac_condition, \
                 created_at FROM role_assignments ORDER BY created_at, id",
            )
            .fetch_all(&self.pool)
            .await
        } else {
            // ARM scopes compare case-insensitively; "below" means the scope
            // followed by a '/' (so /a/b does not contain /a/bc).
            let exact = scope.as_str().to_ascii_lowercase();
            let prefix = format!("{exact}/");
            let prefix_len = i32::try_from(prefix.len()).map_err(backend_err)?;
            sqlx::query(
                "SELECT id, scope, role_definition_id, principal_id, principal_type, abac_condition, \
                 created_at FROM role_assignments \
                 WHERE scope_lower = $1 OR substr(scope_lower, 1, $2) = $3 ORDER BY created_at, id",
            )
            .bind(exact)
            .bind(prefix_len)
            .bind(prefix)
            .fetch_all(&self.pool)
            .await
        }
        .map_err(backend_err)?;
        rows(found, role_assignment_row)
    }

    async fn delete_role_assignment(&self, id: &uuid::Uuid) -> Result<bool> {
        let done = sqlx::query("DELETE FROM role_assignments WHERE id = $1")
            .bind(uuid_text(id))
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        Ok(done.rows_affected() > 0)
    }

    // -- signing keys --

    async fn insert_signing_key(&self, k: &SigningKey) -> Result<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, purpose, tenant_id, sealed_private_key, \
             created_at, active_from, retired_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&k.kid)
        .bind(&k.algorithm)
        .bind(&k.purpose)
        .bind(k.tenant_id.map(|t| t.to_string()))
        .bind(k.sealed_private_key.as_slice())
        .bind(millis(k.created_at))
        .bind(millis(k.active_from))
        .bind(k.retired_at.map(millis))
        .execute(&self.pool)
        .await
        .map_err(|e| write_err(e, &format!("signing key {}", k.kid), "tenant"))?;
        Ok(())
    }

    async fn list_signing_keys(&self, purpose: &str) -> Result<Vec<SigningKey>> {
        let found = sqlx::query(
            "SELECT kid, algorithm, purpose, tenant_id, sealed_private_key, created_at, active_from, \
             retired_at FROM signing_keys WHERE purpose = $1 ORDER BY created_at, kid",
        )
        .bind(purpose)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows(found, signing_key_row)
    }

    async fn retire_signing_key(&self, kid: &str, at: OffsetDateTime) -> Result<()> {
        let done = sqlx::query("UPDATE signing_keys SET retired_at = $2 WHERE kid = $1")
            .bind(kid)
            .bind(millis(at))
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: format!("signing key {kid}"),
            });
        }
        Ok(())
    }

    // -- registries --

    async fn create_registry(&self, r: &Registry) -> Result<()> {
        sqlx::query(
            "INSERT INTO registries (id, name, tenant_id, subscription_id, resource_group, location, sku, \
             login_server, admin_enabled, admin_password1_sealed, admin_password2_sealed, \
             anonymous_pull_enabled, role_assignment_mode, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(r.id.as_str())
        .bind(r.name.as_str())
        .bind(r.tenant_id.to_string())
        .bind(r.subscription_id.to_string())
        .bind(r.resource_group.as_str())
        .bind(&r.location)
        .bind(&r.sku)
        .bind(&r.login_server)
        .bind(flag(r.admin_enabled))
        .bind(r.admin_password1_sealed.as_slice())
        .bind(r.admin_password2_sealed.as_slice())
        .bind(flag(r.anonymous_pull_enabled))
        .bind(r.role_assignment_mode.as_str())
        .bind(millis(r.created_at))
        .bind(millis(r.updated_at))
        .execute(&self.pool)
        .await
        .map_err(|e| write_err(e, &format!("registry {}", r.name), "resource group"))?;
        Ok(())
    }

    async fn find_registry(&self, id: &RegistryId) -> Result<Option<Registry>> {
        sqlx::query("SELECT * FROM registries WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?
            .map(|r| registry_row(&r))
            .transpose()
    }

    async fn find_registry_by_name(&self, name: &RegistryName) -> Result<Option<Registry>> {
        sqlx::query("SELECT * FROM registries WHERE name = $1")
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?
            .map(|r| registry_row(&r))
            .transpose()
    }

    async fn list_registries(
        &self,
        sub: Option<&SubscriptionId>,
        rg: Option<&ResourceGroupName>,
    ) -> Result<Vec<Registry>> {
        let found = sqlx::query(
            "SELECT * FROM registries \
             WHERE ($1 IS NULL OR subscription_id = $1) AND ($2 IS NULL OR lower(resource_group) = $2) \
             ORDER BY name",
        )
        .bind(sub.map(|s| s.to_string()))
        .bind(rg.map(|g| g.as_str().to_lowercase()))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows(found, registry_row)
    }

    async fn update_registry(&self, r: &Registry) -> Result<()> {
        let done = sqlx::query(
            "UPDATE registries SET name = $2, tenant_id = $3, subscription_id = $4, resource_group = $5, \
             location = $6, sku = $7, login_server = $8, admin_enabled = $9, admin_password1_sealed = $10, \
             admin_password2_sealed = $11, anonymous_pull_enabled = $12, role_assignment_mode = $13, \
             updated_at = $14 WHERE id = $1",
        )
        .bind(r.id.as_str())
        .bind(r.name.as_str())
        .bind(r.tenant_id.to_string())
        .bind(r.subscription_id.to_string())
        .bind(r.resource_group.as_str())
        .bind(&r.location)
        .bind(&r.sku)
        .bind(&r.login_server)
        .bind(flag(r.admin_enabled))
        .bind(r.admin_password1_sealed.as_slice())
        .bind(r.admin_password2_sealed.as_slice())
        .bind(flag(r.anonymous_pull_enabled))
        .bind(r.role_assignment_mode.as_str())
        .bind(millis(r.updated_at))
        .execute(&self.pool)
        .await
        .map_err(|e| write_err(e, &format!("registry {}", r.name), "resource group"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: format!("registry {}", r.name),
            });
        }
        Ok(())
    }

    async fn delete_registry(&self, id: &RegistryId) -> Result<bool> {
        // Children first, explicitly: the cascades in the schema are a
        // safety net, not the mechanism.
        let mut tx = self.begin().await?;
        for sql in [
            // Tokens before the scope maps they reference (#4).
            "DELETE FROM repository_tokens WHERE registry_id = $1",
            "DELETE FROM scope_maps WHERE registry_id = $1",
            "DELETE FROM tags WHERE registry_id = $1",
            "DELETE FROM manifest_references WHERE registry_id = $1",
            "DELETE FROM manifests WHERE registry_id = $1",
            "DELETE FROM repository_blobs WHERE registry_id = $1",
            "DELETE FROM uploads WHERE registry_id = $1",
            "DELETE FROM repositories WHERE registry_id = $1",
        ] {
            sqlx::query(sql)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(backend_err)?;
        }
        let done = sqlx::query("DELETE FROM registries WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        tx.commit().await.map_err(backend_err)?;
        Ok(done.rows_affected() > 0)
    }

    // -- repositories and content --

    async fn link_blob(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        digest: &Digest,
        size: u64,
    ) -> Result<()> {
        let now = millis(OffsetDateTime::now_utc());
        let mut tx = self.begin().await?;
        sqlx::query(INSERT_REPOSITORY)
            .bind(reg.as_str())
            .bind(repo.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| write_err(e, &format!("repository {repo}"), &format!("registry {reg}")))?;
        sqlx::query(LINK_BLOB)
            .bind(reg.as_str())
            .bind(repo.as_str())
            .bind(digest.to_string())
            .bind(to_i64(size)?)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| write_err(e, &format!("blob {digest}"), &format!("repository {repo}")))?;
        tx.commit().await.map_err(backend_err)?;
        Ok(())
    }

    async fn find_linked_blob(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        digest: &Digest,
    ) -> Result<Option<u64>> {
        sqlx::query("SELECT size FROM repository_blobs WHERE registry_id = $1 AND repository = $2 AND digest = $3")
            .bind(reg.as_str())
            .bind(repo.as_str())
            .bind(digest.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?
            .map(|r| col_u64(&r, "size"))
            .transpose()
    }

    async fn unlink_blob(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        digest: &Digest,
    ) -> Result<bool> {
        let done = sqlx::query("DELETE FROM repository_blobs WHERE registry_id = $1 AND repository = $2 AND digest = $3")
            .bind(reg.as_str())
            .bind(repo.as_str())
            .bind(digest.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn put_manifest(
        &self,
        m: &ManifestRecord,
        references: &[Digest],
        tag: Option<&Tag>,
    ) -> Result<()> {
        // `m.created_at` is the time of this push: it stamps the repository's
        // update and the tag as well.
        let now = millis(m.created_at);
        let reg = m.registry_id.as_str();
        let repo = m.repository.as_str();
        let digest = m.digest.to_string();
        let mut tx = self.begin().await?;
        sqlx::query(UPSERT_REPOSITORY)
            .bind(reg)
            .bind(repo)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| write_err(e, &format!("repository {repo}"), &format!("registry {reg}")))?;
        // A manifest is immutable content: re-pushing the same digest keeps
        // the first record.
        sqlx::query(
            "INSERT INTO manifests (registry_id, repository, digest, media_type, size, artifact_type, subject, \
             annotations, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (registry_id, repository, digest) DO NOTHING",
        )
        .bind(reg)
        .bind(repo)
        .bind(&digest)
        .bind(&m.media_type)
        .bind(to_i64(m.size)?)
        .bind(m.artifact_type.as_deref())
        .bind(m.subject.as_ref().map(ToString::to_string))
        .bind(m.annotations.as_deref())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        for referenced in references {
            sqlx::query(
                "INSERT INTO manifest_references (registry_id, repository, manifest_digest, referenced_digest) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(reg)
            .bind(repo)
            .bind(&digest)
            .bind(referenced.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        }
        sqlx::query(LINK_BLOB)
            .bind(reg)
            .bind(repo)
            .bind(&digest)
            .bind(to_i64(m.size)?)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        if let Some(tag) = tag {
            sqlx::query(
                "INSERT INTO tags (registry_id, repository, name, digest, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5) \
                 ON CONFLICT (registry_id, repository, name) \
                 DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at",
            )
            .bind(reg)
            .bind(repo)
            .bind(tag.as_str())
            .bind(&digest)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        }
        tx.commit().await.map_err(backend_err)?;
        Ok(())
    }

    async fn find_manifest(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        digest: &Digest,
    ) -> Result<Option<ManifestRecord>> {
        sqlx::query(
            "SELECT registry_id, repository, digest, media_type, size, artifact_type, subject, annotations, \
             created_at FROM manifests WHERE registry_id = $1 AND repository = $2 AND digest = $3",
        )
        .bind(reg.as_str())
        .bind(repo.as_str())
        .bind(digest.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?
        .map(|r| manifest_row(&r))
        .transpose()
    }

    async fn delete_manifest(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        digest: &Digest,
    ) -> Result<bool> {
        let digest = digest.to_string();
        let mut tx = self.begin().await?;
        for sql in [
            "DELETE FROM tags WHERE registry_id = $1 AND repository = $2 AND digest = $3",
            "DELETE FROM manifest_references WHERE registry_id = $1 AND repository = $2 AND manifest_digest = $3",
        ] {
            sqlx::query(sql)
                .bind(reg.as_str())
                .bind(repo.as_str())
                .bind(&digest)
                .execute(&mut *tx)
                .await
                .map_err(backend_err)?;
        }
        let done = sqlx::query(
            "DELETE FROM manifests WHERE registry_id = $1 AND repository = $2 AND digest = $3",
        )
        .bind(reg.as_str())
        .bind(repo.as_str())
        .bind(&digest)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        sqlx::query("DELETE FROM repository_blobs WHERE registry_id = $1 AND repository = $2 AND digest = $3")
            .bind(reg.as_str())
            .bind(repo.as_str())
            .bind(&digest)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        tx.commit().await.map_err(backend_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn find_tag(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        tag: &Tag,
    ) -> Result<Option<TagRecord>> {
        sqlx::query(
            "SELECT registry_id, repository, name, digest, created_at, updated_at FROM tags \
             WHERE registry_id = $1 AND repository = $2 AND name = $3",
        )
        .bind(reg.as_str())
        .bind(repo.as_str())
        .bind(tag.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?
        .map(|r| tag_row(&r))
        .transpose()
    }

    async fn list_tags(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        page: &Page,
    ) -> Result<Vec<TagRecord>> {
        let found = sqlx::query(
            "SELECT registry_id, repository, name, digest, created_at, updated_at FROM tags \
             WHERE registry_id = $1 AND repository = $2 AND ($3 IS NULL OR name > $3) \
             ORDER BY name LIMIT $4",
        )
        .bind(reg.as_str())
        .bind(repo.as_str())
        .bind(page.last.as_deref())
        .bind(page_limit(page))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows(found, tag_row)
    }

    async fn tags_of_manifest(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        digest: &Digest,
    ) -> Result<Vec<Tag>> {
        let found = sqlx::query(
            "SELECT name FROM tags WHERE registry_id = $1 AND repository = $2 AND digest = $3 ORDER BY name",
        )
        .bind(reg.as_str())
        .bind(repo.as_str())
        .bind(digest.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows(found, |r| col_parse(r, "name", Tag::parse))
    }

    async fn delete_tag(&self, reg: &RegistryId, repo: &RepositoryName, tag: &Tag) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM tags WHERE registry_id = $1 AND repository = $2 AND name = $3",
        )
        .bind(reg.as_str())
        .bind(repo.as_str())
        .bind(tag.as_str())
        .execute(&self.pool)
        .await
        .map_err(backend_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_referrers(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        subject: &Digest,
    ) -> Result<Vec<ManifestRecord>> {
        let found = sqlx::query(
            "SELECT registry_id, repository, digest, media_type, size, artifact_type, subject, annotations, \
             created_at FROM manifests WHERE registry_id = $1 AND repository = $2 AND subject = $3 \
             ORDER BY created_at, digest",
        )
        .bind(reg.as_str())
        .bind(repo.as_str())
        .bind(subject.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows(found, manifest_row)
    }

    async fn find_repository(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
    ) -> Result<Option<RepositoryRecord>> {
        sqlx::query(
            "SELECT registry_id, name, created_at, updated_at FROM repositories WHERE registry_id = $1 AND name = $2",
        )
        .bind(reg.as_str())
        .bind(repo.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?
        .map(|r| repository_row(&r))
        .transpose()
    }

    async fn list_repositories(
        &self,
        reg: &RegistryId,
        page: &Page,
    ) -> Result<Vec<RepositoryName>> {
        let found = sqlx::query(
            "SELECT name FROM repositories WHERE registry_id = $1 AND ($2 IS NULL OR name > $2) \
             ORDER BY name LIMIT $3",
        )
        .bind(reg.as_str())
        .bind(page.last.as_deref())
        .bind(page_limit(page))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows(found, |r| col_parse(r, "name", RepositoryName::parse))
    }

    async fn delete_repository(&self, reg: &RegistryId, repo: &RepositoryName) -> Result<bool> {
        let mut tx = self.begin().await?;
        for sql in [
            "DELETE FROM tags WHERE registry_id = $1 AND repository = $2",
            "DELETE FROM manifest_references WHERE registry_id = $1 AND repository = $2",
            "DELETE FROM manifests WHERE registry_id = $1 AND repository = $2",
            "DELETE FROM repository_blobs WHERE registry_id = $1 AND repository = $2",
        ] {
            sqlx::query(sql)
                .bind(reg.as_str())
                .bind(repo.as_str())
                .execute(&mut *tx)
                .await
                .map_err(backend_err)?;
        }
        let done = sqlx::query("DELETE FROM repositories WHERE registry_id = $1 AND name = $2")
            .bind(reg.as_str())
            .bind(repo.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        tx.commit().await.map_err(backend_err)?;
        Ok(done.rows_affected() > 0)
    }

    // -- ACR metadata: changeable attributes and detailed listings --

    async fn find_attributes(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        target: AttributeTarget<'_>,
    ) -> Result<Option<ChangeableAttributes>> {
        let (sql, key) = match target {
            AttributeTarget::Repository => (
                "SELECT delete_enabled, write_enabled, read_enabled, list_enabled FROM repositories \
                 WHERE registry_id = $1 AND name = $2",
                None,
            ),
            AttributeTarget::Tag(tag) => (
                "SELECT delete_enabled, write_enabled, read_enabled, list_enabled FROM tags \
                 WHERE registry_id = $1 AND repository = $2 AND name = $3",
                Some(tag.to_string()),
            ),
            AttributeTarget::Manifest(digest) => (
                "SELECT delete_enabled, write_enabled, read_enabled, list_enabled FROM manifests \
                 WHERE registry_id = $1 AND repository = $2 AND digest = $3",
                Some(digest.to_string()),
            ),
        };
        let mut query = sqlx::query(sql).bind(reg.as_str()).bind(repo.as_str());
        if let Some(key) = key {
            query = query.bind(key);
        }
        query
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?
            .map(|r| attributes_row(&r))
            .transpose()
    }

    async fn set_attributes(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        target: AttributeTarget<'_>,
        attributes: &ChangeableAttributes,
        at: OffsetDateTime,
    ) -> Result<bool> {
        let (sql, key) = match target {
            AttributeTarget::Repository => (
                "UPDATE repositories SET delete_enabled = $3, write_enabled = $4, read_enabled = $5, \
                 list_enabled = $6, updated_at = $7 WHERE registry_id = $1 AND name = $2",
                None,
            ),
            AttributeTarget::Tag(tag) => (
                "UPDATE tags SET delete_enabled = $3, write_enabled = $4, read_enabled = $5, \
                 list_enabled = $6, updated_at = $7 WHERE registry_id = $1 AND repository = $2 AND name = $8",
                Some(tag.to_string()),
            ),
            AttributeTarget::Manifest(digest) => (
                "UPDATE manifests SET delete_enabled = $3, write_enabled = $4, read_enabled = $5, \
                 list_enabled = $6, updated_at = $7 WHERE registry_id = $1 AND repository = $2 AND digest = $8",
                Some(digest.to_string()),
            ),
        };
        let mut query = sqlx::query(sql)
            .bind(reg.as_str())
            .bind(repo.as_str())
            .bind(flag(attributes.delete_enabled))
            .bind(flag(attributes.write_enabled))
            .bind(flag(attributes.read_enabled))
            .bind(flag(attributes.list_enabled))
            .bind(millis(at));
        if let Some(key) = key {
            query = query.bind(key);
        }
        let done = query.execute(&self.pool).await.map_err(backend_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn find_repository_detail(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
    ) -> Result<Option<RepositoryDetail>> {
        let Some(row) = sqlx::query(
            "SELECT r.registry_id, r.name, r.created_at, r.updated_at, r.delete_enabled, r.write_enabled, \
             r.read_enabled, r.list_enabled, \
             (SELECT COUNT(*) FROM manifests m WHERE m.registry_id = r.registry_id AND m.repository = r.name) \
             AS manifest_count, \
             (SELECT COUNT(*) FROM tags t WHERE t.registry_id = r.registry_id AND t.repository = r.name) \
             AS tag_count \
             FROM repositories r WHERE r.registry_id = $1 AND r.name = $2",
        )
        .bind(reg.as_str())
        .bind(repo.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?
        else {
            return Ok(None);
        };
        Ok(Some(RepositoryDetail {
            record: repository_row(&row)?,
            attributes: attributes_row(&row)?,
            manifest_count: col_u64(&row, "manifest_count")?,
            tag_count: col_u64(&row, "tag_count")?,
        }))
    }

    async fn list_listed_repositories(
        &self,
        reg: &RegistryId,
        page: &Page,
    ) -> Result<Vec<RepositoryName>> {
        let found = sqlx::query(
            "SELECT name FROM repositories WHERE registry_id = $1 AND list_enabled = 1 \
             AND ($2 IS NULL OR name > $2) ORDER BY name LIMIT $3",
        )
        .bind(reg.as_str())
        .bind(page.last.as_deref())
        .bind(page_limit(page))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows(found, |r| col_parse(r, "name", RepositoryName::parse))
    }

    async fn find_tag_detail(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        tag: &Tag,
    ) -> Result<Option<TagDetail>> {
        sqlx::query(concat!(
            "SELECT ",
            tag_detail_columns!(),
            " FROM tags WHERE registry_id = $1 AND repository = $2 AND name = $3"
        ))
        .bind(reg.as_str())
        .bind(repo.as_str())
        .bind(tag.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?
        .map(|r| tag_detail_row(&r))
        .transpose()
    }

    async fn list_tag_details(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        query: &TagQuery,
    ) -> Result<Vec<TagDetail>> {
        // Keyset paging: under a time order the previous page ended at
        // (`last`'s update time, `last`), so look that time up first.
        let last = query.page.last.as_deref();
        let last_time = match (query.order, last) {
            (ListOrder::Name, _) | (_, None) => None,
            (ListOrder::TimeDesc | ListOrder::TimeAsc, Some(name)) => {
                let row = sqlx::query(
                    "SELECT updated_at FROM tags WHERE registry_id = $1 AND repository = $2 AND name = $3",
                )
                .bind(reg.as_str())
                .bind(repo.as_str())
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_err)?;
                match row {
                    Some(row) => Some(col_i64(&row, "updated_at")?),
                    None => return Ok(Vec::new()),
                }
            }
        };
        // $1 registry, $2 repository, $3 digest filter, $4 listed only,
        // $5 last name, then under a time order $6 last time; the limit last.
        let sql = match query.order {
            ListOrder::Name => concat!(
                "SELECT ",
                tag_detail_columns!(),
                " FROM tags WHERE registry_id = $1 AND repository = $2 AND ($3 IS NULL OR digest = $3) \
                 AND ($4 = 0 OR list_enabled = 1) AND ($5 IS NULL OR name > $5) ORDER BY name LIMIT $6"
            ),
            ListOrder::TimeDesc => concat!(
                "SELECT ",
                tag_detail_columns!(),
                " FROM tags WHERE registry_id = $1 AND repository = $2 AND ($3 IS NULL OR digest = $3) \
                 AND ($4 = 0 OR list_enabled = 1) \
                 AND ($5 IS NULL OR updated_at < $6 OR (updated_at = $6 AND name < $5)) \
                 ORDER BY updated_at DESC, name DESC LIMIT $7"
            ),
            ListOrder::TimeAsc => concat!(
                "SELECT ",
                tag_detail_columns!(),
                " FROM tags WHERE registry_id = $1 AND repository = $2 AND ($3 IS NULL OR digest = $3) \
                 AND ($4 = 0 OR list_enabled = 1) \
                 AND ($5 IS NULL OR updated_at > $6 OR (updated_at = $6 AND name > $5)) \
                 ORDER BY updated_at, name LIMIT $7"
            ),
        };
        let mut statement = sqlx::query(sql)
            .bind(reg.as_str())
            .bind(repo.as_str())
            .bind(query.digest.as_ref().map(ToString::to_string))
            .bind(flag(query.listed_only))
            .bind(last);
        if query.order != ListOrder::Name {
            statement = statement.bind(last_time);
        }
        let found = statement
            .bind(page_limit(&query.page))
            .fetch_all(&self.pool)
            .await
            .map_err(backend_err)?;
        rows(found, tag_detail_row)
    }

    async fn find_manifest_detail(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        digest: &Digest,
    ) -> Result<Option<ManifestDetail>> {
        sqlx::query(concat!(
            "SELECT ",
            manifest_detail_columns!(),
            " FROM manifests WHERE registry_id = $1 AND repository = $2 AND digest = $3"
        ))
        .bind(reg.as_str())
        .bind(repo.as_str())
        .bind(digest.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?
        .map(|r| manifest_detail_row(&r))
        .transpose()
    }

    async fn list_manifest_details(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        query: &ManifestQuery,
    ) -> Result<Vec<ManifestDetail>> {
        // Keyset paging as in `list_tag_details`, on the manifest's last
        // change (its push time until its attributes change).
        let last = query.page.last.as_deref();
        let last_time = match (query.order, last) {
            (ListOrder::Name, _) | (_, None) => None,
            (ListOrder::TimeDesc | ListOrder::TimeAsc, Some(digest)) => {
                let row = sqlx::query(
                    "SELECT COALESCE(updated_at, created_at) AS t FROM manifests \
                     WHERE registry_id = $1 AND repository = $2 AND digest = $3",
                )
                .bind(reg.as_str())
                .bind(repo.as_str())
                .bind(digest)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_err)?;
                match row {
                    Some(row) => Some(col_i64(&row, "t")?),
                    None => return Ok(Vec::new()),
                }
            }
        };
        // $1 registry, $2 repository, $3 listed only, $4 last digest, then
        // under a time order $5 last time; the limit last.
        let sql = match query.order {
            ListOrder::Name => concat!(
                "SELECT ",
                manifest_detail_columns!(),
                " FROM manifests WHERE registry_id = $1 AND repository = $2 \
                 AND ($3 = 0 OR list_enabled = 1) AND ($4 IS NULL OR digest > $4) \
                 ORDER BY digest LIMIT $5"
            ),
            ListOrder::TimeDesc => concat!(
                "SELECT ",
                manifest_detail_columns!(),
                " FROM manifests WHERE registry_id = $1 AND repository = $2 \
                 AND ($3 = 0 OR list_enabled = 1) \
                 AND ($4 IS NULL OR COALESCE(updated_at, created_at) < $5 \
                 OR (COALESCE(updated_at, created_at) = $5 AND digest < $4)) \
                 ORDER BY COALESCE(updated_at, created_at) DESC, digest DESC LIMIT $6"
            ),
            ListOrder::TimeAsc => concat!(
                "SELECT ",
                manifest_detail_columns!(),
                " FROM manifests WHERE registry_id = $1 AND repository = $2 \
                 AND ($3 = 0 OR list_enabled = 1) \
                 AND ($4 IS NULL OR COALESCE(updated_at, created_at) > $5 \
                 OR (COALESCE(updated_at, created_at) = $5 AND digest > $4)) \
                 ORDER BY COALESCE(updated_at, created_at), digest LIMIT $6"
            ),
        };
        let mut statement = sqlx::query(sql)
            .bind(reg.as_str())
            .bind(repo.as_str())
            .bind(flag(query.listed_only))
            .bind(last);
        if query.order != ListOrder::Name {
            statement = statement.bind(last_time);
        }
        let found = statement
            .bind(page_limit(&query.page))
            .fetch_all(&self.pool)
            .await
            .map_err(backend_err)?;
        rows(found, manifest_detail_row)
    }

    async fn tags_of_manifests(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        digests: &[Digest],
        listed_only: bool,
    ) -> Result<Vec<TagRecord>> {
        let mut wanted: Vec<String> = digests.iter().map(ToString::to_string).collect();
        wanted.sort();
        wanted.dedup();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        // SQL built at run time: numbered placeholders, one per digest after
        // the three fixed ones. No value is ever formatted into the text.
        let placeholders: Vec<String> = (4..wanted.len() + 4).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT registry_id, repository, name, digest, created_at, updated_at FROM tags \
             WHERE registry_id = $1 AND repository = $2 AND ($3 = 0 OR list_enabled = 1) \
             AND digest IN ({}) ORDER BY name",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(reg.as_str())
            .bind(repo.as_str())
            .bind(flag(listed_only));
        for d in wanted {
            query = query.bind(d);
        }
        let found = query.fetch_all(&self.pool).await.map_err(backend_err)?;
        rows(found, tag_row)
    }

    async fn set_manifest_config(
        &self,
        reg: &RegistryId,
        repo: &RepositoryName,
        digest: &Digest,
        config: &ManifestConfig,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE manifests SET config_media_type = $4, architecture = $5, os = $6 \
             WHERE registry_id = $1 AND repository = $2 AND digest = $3",
        )
        .bind(reg.as_str())
        .bind(repo.as_str())
        .bind(digest.to_string())
        .bind(config.media_type.as_deref())
        .bind(config.architecture.as_deref())
        .bind(config.os.as_deref())
        .execute(&self.pool)
        .await
        .map_err(backend_err)?;
        Ok(done.rows_affected() > 0)
    }

    // -- uploads --

    async fn create_upload(&self, u: &UploadRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO uploads (id, registry_id, repository, size, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(u.id.to_string())
        .bind(u.registry_id.as_str())
        .bind(u.repository.as_str())
        .bind(to_i64(u.size)?)
        .bind(millis(u.created_at))
        .bind(millis(u.updated_at))
        .execute(&self.pool)
        .await
        .map_err(|e| {
            write_err(
                e,
                &format!("upload {}", u.id),
                &format!("registry {}", u.registry_id),
            )
        })?;
        Ok(())
    }

    async fn find_upload(&self, id: &UploadId) -> Result<Option<UploadRecord>> {
        sqlx::query("SELECT id, registry_id, repository, size, created_at, updated_at FROM uploads WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?
            .map(|r| upload_row(&r))
            .transpose()
    }

    async fn set_upload_size(&self, id: &UploadId, size: u64, at: OffsetDateTime) -> Result<()> {
        let done = sqlx::query("UPDATE uploads SET size = $2, updated_at = $3 WHERE id = $1")
            .bind(id.to_string())
            .bind(to_i64(size)?)
            .bind(millis(at))
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: format!("upload {id}"),
            });
        }
        Ok(())
    }

    async fn delete_upload(&self, id: &UploadId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_stale_uploads(&self, before: OffsetDateTime) -> Result<Vec<UploadRecord>> {
        let found = sqlx::query(
            "SELECT id, registry_id, repository, size, created_at, updated_at FROM uploads \
             WHERE updated_at < $1 ORDER BY updated_at, id",
        )
        .bind(millis(before))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows(found, upload_row)
    }

    // -- audit --

    async fn append_audit(&self, r: &AuditRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit (id, occurred_at, registry_id, principal, action, repository, decision, \
             client_addr, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(uuid_text(&r.id))
        .bind(millis(r.at))
        .bind(r.registry_id.as_ref().map(|id| id.as_str().to_owned()))
        .bind(&r.principal)
        .bind(&r.action)
        .bind(r.repository.as_deref())
        .bind(&r.decision)
        .bind(r.client_addr.as_deref())
        .bind(r.detail.as_deref())
        .execute(&self.pool)
        .await
        .map_err(|e| write_err(e, &format!("audit record {}", r.id), "registry"))?;
        Ok(())
    }

    async fn list_audit(&self, f: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let found = sqlx::query(
            "SELECT id, occurred_at, registry_id, principal, action, repository, decision, client_addr, detail \
             FROM audit \
             WHERE ($1 IS NULL OR registry_id = $1) AND ($2 IS NULL OR principal = $2) \
             AND ($3 IS NULL OR action = $3) AND ($4 IS NULL OR repository = $4) \
             AND ($5 IS NULL OR occurred_at >= $5) \
             ORDER BY occurred_at DESC, id DESC LIMIT $6",
        )
        .bind(f.registry_id.as_ref().map(|id| id.as_str().to_owned()))
        .bind(f.principal.as_deref())
        .bind(f.action.as_deref())
        .bind(f.repository.as_deref())
        .bind(f.since.map(millis))
        .bind(i64::from(f.limit.unwrap_or(DEFAULT_AUDIT_LIMIT)))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows(found, audit_row)
    }

    // -- token exchange (exchange, #3) --

    async fn find_aad_auth_as_arm_policy(&self, reg: &RegistryId) -> Result<Option<bool>> {
        sqlx::query("SELECT aad_auth_as_arm_enabled FROM registries WHERE id = $1")
            .bind(reg.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?
            .map(|r| col_bool(&r, "aad_auth_as_arm_enabled"))
            .transpose()
    }

    async fn set_aad_auth_as_arm_policy(&self, reg: &RegistryId, enabled: bool) -> Result<()> {
        let done = sqlx::query("UPDATE registries SET aad_auth_as_arm_enabled = $2 WHERE id = $1")
            .bind(reg.as_str())
            .bind(flag(enabled))
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: format!("registry {reg}"),
            });
        }
        Ok(())
    }

    // -- directory sessions, groups (#3) --

    async fn insert_directory_session(&self, s: &super::DirectorySession) -> Result<()> {
        directory::insert_session(self, s).await
    }

    async fn find_directory_session(
        &self,
        token_hash: &str,
    ) -> Result<Option<super::DirectorySession>> {
        directory::find_session(self, token_hash).await
    }

    async fn mark_directory_session_used(
        &self,
        token_hash: &str,
        at: OffsetDateTime,
    ) -> Result<bool> {
        directory::mark_session_used(self, token_hash, at).await
    }

    async fn delete_directory_session_family(&self, family: &uuid::Uuid) -> Result<u64> {
        directory::delete_family(self, family).await
    }

    async fn delete_directory_sessions_of_user(&self, user: &ObjectId) -> Result<u64> {
        directory::delete_sessions_of_user(self, user).await
    }

    async fn delete_expired_directory_sessions(&self, before: OffsetDateTime) -> Result<u64> {
        directory::delete_expired_sessions(self, before).await
    }

    async fn insert_device_code(&self, d: &super::DeviceCode) -> Result<()> {
        directory::insert_device_code(self, d).await
    }

    async fn find_device_code(&self, device_code_hash: &str) -> Result<Option<super::DeviceCode>> {
        directory::find_device_code(self, device_code_hash).await
    }

    async fn find_device_code_by_user_code(
        &self,
        user_code_hash: &str,
    ) -> Result<Option<super::DeviceCode>> {
        directory::find_device_code_by_user_code(self, user_code_hash).await
    }

    async fn record_device_code_poll(
        &self,
        device_code_hash: &str,
        at: OffsetDateTime,
        interval_secs: u32,
    ) -> Result<bool> {
        directory::record_device_code_poll(self, device_code_hash, at, interval_secs).await
    }

    async fn decide_device_code(
        &self,
        device_code_hash: &str,
        approved: bool,
        user: &ObjectId,
        at: OffsetDateTime,
    ) -> Result<bool> {
        directory::decide_device_code(self, device_code_hash, approved, user, at).await
    }

    async fn redeem_device_code(&self, device_code_hash: &str) -> Result<bool> {
        directory::redeem_device_code(self, device_code_hash).await
    }

    async fn delete_expired_device_codes(&self, before: OffsetDateTime) -> Result<u64> {
        directory::delete_expired_device_codes(self, before).await
    }

    async fn create_group(&self, g: &super::Group) -> Result<()> {
        directory::create_group(self, g).await
    }

    async fn find_group(&self, id: &ObjectId) -> Result<Option<super::Group>> {
        directory::find_group(self, id).await
    }

    async fn list_groups(&self, tenant: &TenantId) -> Result<Vec<super::Group>> {
        directory::list_groups(self, tenant).await
    }

    async fn delete_group(&self, id: &ObjectId) -> Result<bool> {
        directory::delete_group(self, id).await
    }

    async fn add_group_member(&self, m: &super::GroupMember) -> Result<bool> {
        directory::add_group_member(self, m).await
    }

    async fn remove_group_member(&self, group: &ObjectId, member: &ObjectId) -> Result<bool> {
        directory::remove_group_member(self, group, member).await
    }

    async fn list_group_members(&self, group: &ObjectId) -> Result<Vec<super::GroupMember>> {
        directory::list_group_members(self, group).await
    }

    async fn list_groups_of(&self, member: &ObjectId) -> Result<Vec<ObjectId>> {
        directory::list_groups_of(self, member).await
    }

    async fn remove_from_all_groups(&self, member: &ObjectId) -> Result<u64> {
        directory::remove_from_all_groups(self, member).await
    }

    async fn delete_signing_key(&self, kid: &str) -> Result<bool> {
        directory::delete_signing_key(self, kid).await
    }

    // -- role definitions (#3) --

    async fn create_role_definition(&self, d: &super::RoleDefinitionRecord) -> Result<()> {
        rbac::create_role_definition(self, d).await
    }

    async fn update_role_definition(&self, d: &super::RoleDefinitionRecord) -> Result<()> {
        rbac::update_role_definition(self, d).await
    }

    async fn find_role_definition(
        &self,
        id: &uuid::Uuid,
    ) -> Result<Option<super::RoleDefinitionRecord>> {
        rbac::find_role_definition(self, id).await
    }

    async fn find_role_definition_by_name(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<Option<super::RoleDefinitionRecord>> {
        rbac::find_role_definition_by_name(self, tenant, name).await
    }

    async fn list_role_definitions(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<super::RoleDefinitionRecord>> {
        rbac::list_role_definitions(self, tenant).await
    }

    async fn delete_role_definition(&self, id: &uuid::Uuid) -> Result<bool> {
        rbac::delete_role_definition(self, id).await
    }

    async fn find_role_assignment(&self, id: &uuid::Uuid) -> Result<Option<RoleAssignment>> {
        rbac::find_role_assignment(self, id).await
    }

    async fn list_role_assignments_at(&self, scopes: &[ArmScope]) -> Result<Vec<RoleAssignment>> {
        rbac::list_role_assignments_at(self, scopes).await
    }

    async fn list_role_assignments_of_role(
        &self,
        role: &uuid::Uuid,
    ) -> Result<Vec<RoleAssignment>> {
        rbac::list_role_assignments_of_role(self, role).await
    }

    // -- scope maps and repository tokens (#4) --

    async fn create_scope_map(&self, m: &super::ScopeMapRecord) -> Result<()> {
        repo_tokens::create_scope_map(self, m).await
    }

    async fn update_scope_map(&self, m: &super::ScopeMapRecord) -> Result<()> {
        repo_tokens::update_scope_map(self, m).await
    }

    async fn find_scope_map(
        &self,
        reg: &RegistryId,
        name: &str,
    ) -> Result<Option<super::ScopeMapRecord>> {
        repo_tokens::find_scope_map(self, reg, name).await
    }

    async fn list_scope_maps(&self, reg: &RegistryId) -> Result<Vec<super::ScopeMapRecord>> {
        repo_tokens::list_scope_maps(self, reg).await
    }

    async fn delete_scope_map(&self, reg: &RegistryId, name: &str) -> Result<bool> {
        repo_tokens::delete_scope_map(self, reg, name).await
    }

    async fn create_repository_token(&self, t: &super::RepositoryTokenRecord) -> Result<()> {
        repo_tokens::create_repository_token(self, t).await
    }

    async fn update_repository_token(&self, t: &super::RepositoryTokenRecord) -> Result<()> {
        repo_tokens::update_repository_token(self, t).await
    }

    async fn set_repository_token_password(
        &self,
        reg: &RegistryId,
        name: &str,
        which: super::TokenPasswordName,
        password: Option<&super::TokenPassword>,
        at: OffsetDateTime,
    ) -> Result<()> {
        repo_tokens::set_repository_token_password(self, reg, name, which, password, at).await
    }

    async fn find_repository_token(
        &self,
        reg: &RegistryId,
        name: &str,
    ) -> Result<Option<super::RepositoryTokenRecord>> {
        repo_tokens::find_repository_token(self, reg, name).await
    }

    async fn list_repository_tokens(
        &self,
        reg: &RegistryId,
    ) -> Result<Vec<super::RepositoryTokenRecord>> {
        repo_tokens::list_repository_tokens(self, reg).await
    }

    async fn delete_repository_token(&self, reg: &RegistryId, name: &str) -> Result<bool> {
        repo_tokens::delete_repository_token(self, reg, name).await
    }

    // -- applications and service principals (#4) --

    async fn create_application(&self, a: &super::Application) -> Result<()> {
        apps::create_application(self, a).await
    }

    async fn find_application(&self, id: &ObjectId) -> Result<Option<super::Application>> {
        apps::find_application(self, id).await
    }

    async fn find_application_by_app_id(
        &self,
        app_id: &uuid::Uuid,
    ) -> Result<Option<super::Application>> {
        apps::find_application_by_app_id(self, app_id).await
    }

    async fn list_applications(&self, tenant: &TenantId) -> Result<Vec<super::Application>> {
        apps::list_applications(self, tenant).await
    }

    async fn update_application(&self, a: &super::Application) -> Result<()> {
        apps::update_application(self, a).await
    }

    async fn delete_application(&self, id: &ObjectId) -> Result<bool> {
        apps::delete_application(self, id).await
    }

    async fn create_service_principal(&self, sp: &super::ServicePrincipal) -> Result<()> {
        apps::create_service_principal(self, sp).await
    }

    async fn find_service_principal(
        &self,
        id: &ObjectId,
    ) -> Result<Option<super::ServicePrincipal>> {
        apps::find_service_principal(self, id).await
    }

    async fn find_service_principal_by_app(
        &self,
        app_id: &uuid::Uuid,
        tenant: &TenantId,
    ) -> Result<Option<super::ServicePrincipal>> {
        apps::find_service_principal_by_app(self, app_id, tenant).await
    }

    async fn list_service_principals(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<super::ServicePrincipal>> {
        apps::list_service_principals(self, tenant).await
    }

    async fn list_service_principals_of_app(
        &self,
        app_id: &uuid::Uuid,
    ) -> Result<Vec<super::ServicePrincipal>> {
        apps::list_service_principals_of_app(self, app_id).await
    }

    async fn update_service_principal(&self, sp: &super::ServicePrincipal) -> Result<()> {
        apps::update_service_principal(self, sp).await
    }

    async fn delete_service_principal(&self, id: &ObjectId) -> Result<bool> {
        apps::delete_service_principal(self, id).await
    }

    async fn add_app_credential(&self, c: &super::AppCredential) -> Result<()> {
        apps::add_app_credential(self, c).await
    }

    async fn replace_app_passwords(&self, c: &super::AppCredential) -> Result<u64> {
        apps::replace_app_passwords(self, c).await
    }

    async fn list_app_credentials(
        &self,
        application: &ObjectId,
    ) -> Result<Vec<super::AppCredential>> {
        apps::list_app_credentials(self, application).await
    }

    async fn delete_app_credential(
        &self,
        application: &ObjectId,
        key_id: &uuid::Uuid,
    ) -> Result<bool> {
        apps::delete_app_credential(self, application, key_id).await
    }

    async fn list_soonest_credential_ends(&self) -> Result<Vec<(uuid::Uuid, OffsetDateTime)>> {
        apps::list_soonest_credential_ends(self).await
    }

    async fn create_federated_credential(&self, f: &super::FederatedCredential) -> Result<()> {
        apps::create_federated_credential(self, f).await
    }

    async fn list_federated_credentials(
        &self,
        application: &ObjectId,
    ) -> Result<Vec<super::FederatedCredential>> {
        apps::list_federated_credentials(self, application).await
    }

    async fn delete_federated_credential(
        &self,
        application: &ObjectId,
        id: &uuid::Uuid,
    ) -> Result<bool> {
        apps::delete_federated_credential(self, application, id).await
    }

    async fn record_assertion_jti(&self, key: &str, expires_at: OffsetDateTime) -> Result<bool> {
        apps::record_assertion_jti(self, key, expires_at).await
    }

    async fn delete_expired_assertion_jtis(&self, before: OffsetDateTime) -> Result<u64> {
        apps::delete_expired_assertion_jtis(self, before).await
    }

    // -- resources, managed identities, clusters (#5) --
    async fn create_managed_identity(&self, mi: &super::ManagedIdentity) -> Result<()> {
        identities::create_managed_identity(self, mi).await
    }
    async fn find_managed_identity(
        &self,
        principal_id: &ObjectId,
    ) -> Result<Option<super::ManagedIdentity>> {
        identities::find_managed_identity(self, principal_id).await
    }
    async fn find_managed_identity_by_client_id(
        &self,
        client_id: &uuid::Uuid,
    ) -> Result<Option<super::ManagedIdentity>> {
        identities::find_managed_identity_by_client_id(self, client_id).await
    }
    async fn find_managed_identity_by_resource_id(
        &self,
        resource_id: &ArmScope,
    ) -> Result<Option<super::ManagedIdentity>> {
        identities::find_managed_identity_by_resource_id(self, resource_id).await
    }
    async fn list_user_assigned_identities(
        &self,
        sub: &SubscriptionId,
        rg: Option<&ResourceGroupName>,
    ) -> Result<Vec<super::ManagedIdentity>> {
        identities::list_user_assigned_identities(self, sub, rg).await
    }
    async fn delete_managed_identity(&self, principal_id: &ObjectId) -> Result<bool> {
        identities::delete_managed_identity(self, principal_id).await
    }
    async fn create_compute_resource(&self, r: &super::ComputeResource) -> Result<()> {
        identities::create_compute_resource(self, r).await
    }
    async fn find_compute_resource(&self, id: &ArmScope) -> Result<Option<super::ComputeResource>> {
        identities::find_compute_resource(self, id).await
    }
    async fn list_compute_resources(
        &self,
        sub: &SubscriptionId,
        rg: Option<&ResourceGroupName>,
    ) -> Result<Vec<super::ComputeResource>> {
        identities::list_compute_resources(self, sub, rg).await
    }
    async fn update_compute_resource(&self, r: &super::ComputeResource) -> Result<()> {
        identities::update_compute_resource(self, r).await
    }
    async fn delete_compute_resource(&self, id: &ArmScope) -> Result<bool> {
        identities::delete_compute_resource(self, id).await
    }
    async fn attach_identity(
        &self,
        resource: &ArmScope,
        identity: &ObjectId,
        at: OffsetDateTime,
    ) -> Result<bool> {
        identities::attach_identity(self, resource, identity, at).await
    }
    async fn detach_identity(&self, resource: &ArmScope, identity: &ObjectId) -> Result<bool> {
        identities::detach_identity(self, resource, identity).await
    }
    async fn list_attached_identities(
        &self,
        resource: &ArmScope,
    ) -> Result<Vec<super::ManagedIdentity>> {
        identities::list_attached_identities(self, resource).await
    }
    async fn list_resources_of_identity(&self, identity: &ObjectId) -> Result<Vec<ArmScope>> {
        identities::list_resources_of_identity(self, identity).await
    }
}
