//! SQL for applications, service principals, their credentials and the
//! client-assertion replay keys (issue #4), called by the `MetaStore` impl
//! in the parent module. Same conventions: every statement is a
//! `&'static str`, times are epoch milliseconds, booleans 0/1, lists JSON
//! arrays in TEXT columns.

use acrylic_model::{ObjectId, TenantId};
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::{
    SqlMetaStore, backend_err, col_bool, col_opt_str, col_parse, col_str, col_time, col_uuid, flag,
    millis, rows, uuid_text, write_err,
};
use crate::meta::{
    AppCredential, AppCredentialKind, Application, FederatedCredential, Result, ServicePrincipal,
    SignInAudience, StoreError,
};

fn application_row(row: &AnyRow) -> Result<Application> {
    let audience = col_str(row, "sign_in_audience")?;
    Ok(Application {
        id: col_parse(row, "id", ObjectId::parse)?,
        app_id: col_uuid(row, "app_id")?,
        tenant_id: col_parse(row, "tenant_id", TenantId::parse)?,
        display_name: col_str(row, "display_name")?,
        sign_in_audience: SignInAudience::parse(&audience)
            .ok_or_else(|| StoreError::Backend(format!("unknown sign_in_audience {audience:?}")))?,
        created_at: col_time(row, "created_at")?,
        updated_at: col_time(row, "updated_at")?,
    })
}

fn service_principal_row(row: &AnyRow) -> Result<ServicePrincipal> {
    Ok(ServicePrincipal {
        id: col_parse(row, "id", ObjectId::parse)?,
        app_id: col_uuid(row, "app_id")?,
        tenant_id: col_parse(row, "tenant_id", TenantId::parse)?,
        display_name: col_str(row, "display_name")?,
        enabled: col_bool(row, "enabled")?,
        created_at: col_time(row, "created_at")?,
    })
}

fn credential_row(row: &AnyRow) -> Result<AppCredential> {
    let kind = col_str(row, "kind")?;
    let missing = |col: &str| StoreError::Backend(format!("{kind} credential without {col}"));
    let kind = match kind.as_str() {
        "password" => AppCredentialKind::Password {
            hash: col_opt_str(row, "secret_hash")?.ok_or_else(|| missing("secret_hash"))?,
        },
        "certificate" => AppCredentialKind::Certificate {
            der: row
                .try_get::<Option<Vec<u8>>, _>("certificate")
                .map_err(backend_err)?
                .ok_or_else(|| missing("certificate"))?,
            sha1: col_opt_str(row, "sha1")?.ok_or_else(|| missing("sha1"))?,
            sha256: col_opt_str(row, "sha256")?.ok_or_else(|| missing("sha256"))?,
        },
        other => {
            return Err(StoreError::Backend(format!(
                "unknown credential kind {other:?}"
            )));
        }
    };
    Ok(AppCredential {
        key_id: col_uuid(row, "key_id")?,
        application_id: col_parse(row, "application_id", ObjectId::parse)?,
        kind,
        display_name: col_opt_str(row, "display_name")?,
        hint: col_opt_str(row, "hint")?,
        start_at: col_time(row, "start_at")?,
        end_at: col_time(row, "end_at")?,
        created_at: col_time(row, "created_at")?,
    })
}

fn federated_row(row: &AnyRow) -> Result<FederatedCredential> {
    let audiences = col_str(row, "audiences")?;
    Ok(FederatedCredential {
        id: col_uuid(row, "id")?,
        application_id: col_parse(row, "application_id", ObjectId::parse)?,
        name: col_str(row, "name")?,
        issuer: col_str(row, "issuer")?,
        subject: col_str(row, "subject")?,
        audiences: serde_json::from_str(&audiences)
            .map_err(|e| StoreError::Backend(format!("column audiences: {e}")))?,
        description: col_opt_str(row, "description")?,
        created_at: col_time(row, "created_at")?,
    })
}

// ---- applications -----------------------------------------------------------

pub(super) async fn create_application(db: &SqlMetaStore, a: &Application) -> Result<()> {
    sqlx::query(
        "INSERT INTO applications (id, app_id, tenant_id, display_name, sign_in_audience, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(a.id.to_string())
    .bind(uuid_text(&a.app_id))
    .bind(a.tenant_id.to_string())
    .bind(a.display_name.clone())
    .bind(a.sign_in_audience.as_str())
    .bind(millis(a.created_at))
    .bind(millis(a.updated_at))
    .execute(&db.pool)
    .await
    .map_err(|e| write_err(e, &format!("application {}", a.app_id), "tenant"))?;
    Ok(())
}

pub(super) async fn find_application(
    db: &SqlMetaStore,
    id: &ObjectId,
) -> Result<Option<Application>> {
    let row = sqlx::query(
        "SELECT id, app_id, tenant_id, display_name, sign_in_audience, created_at, updated_at \
         FROM applications WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(&db.pool)
    .await
    .map_err(backend_err)?;
    row.as_ref().map(application_row).transpose()
}

pub(super) async fn find_application_by_app_id(
    db: &SqlMetaStore,
    app_id: &uuid::Uuid,
) -> Result<Option<Application>> {
    let row = sqlx::query(
        "SELECT id, app_id, tenant_id, display_name, sign_in_audience, created_at, updated_at \
         FROM applications WHERE app_id = $1",
    )
    .bind(uuid_text(app_id))
    .fetch_optional(&db.pool)
    .await
    .map_err(backend_err)?;
    row.as_ref().map(application_row).transpose()
}

pub(super) async fn list_applications(
    db: &SqlMetaStore,
    tenant: &TenantId,
) -> Result<Vec<Application>> {
    let found = sqlx::query(
        "SELECT id, app_id, tenant_id, display_name, sign_in_audience, created_at, updated_at \
         FROM applications WHERE tenant_id = $1 ORDER BY lower(display_name), id",
    )
    .bind(tenant.to_string())
    .fetch_all(&db.pool)
    .await
    .map_err(backend_err)?;
    rows(found, application_row)
}

pub(super) async fn update_application(db: &SqlMetaStore, a: &Application) -> Result<()> {
    let done = sqlx::query(
        "UPDATE applications SET display_name = $2, sign_in_audience = $3, updated_at = $4 \
         WHERE id = $1",
    )
    .bind(a.id.to_string())
    .bind(a.display_name.clone())
    .bind(a.sign_in_audience.as_str())
    .bind(millis(a.updated_at))
    .execute(&db.pool)
    .await
    .map_err(backend_err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: format!("application {}", a.id),
        });
    }
    Ok(())
}

pub(super) async fn delete_application(db: &SqlMetaStore, id: &ObjectId) -> Result<bool> {
    let done = sqlx::query("DELETE FROM applications WHERE id = $1")
        .bind(id.to_string())
        .execute(&db.pool)
        .await
        .map_err(|e| {
            // A foreign-key refusal: service principals still name it.
            write_err(e, "application", "application")
        })?;
    Ok(done.rows_affected() > 0)
}

// ---- service principals -----------------------------------------------------

pub(super) async fn create_service_principal(
    db: &SqlMetaStore,
    sp: &ServicePrincipal,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO service_principals (id, app_id, tenant_id, display_name, enabled, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(sp.id.to_string())
    .bind(uuid_text(&sp.app_id))
    .bind(sp.tenant_id.to_string())
    .bind(sp.display_name.clone())
    .bind(flag(sp.enabled))
    .bind(millis(sp.created_at))
    .execute(&db.pool)
    .await
    .map_err(|e| {
        write_err(
            e,
            &format!(
                "service principal of {} in tenant {}",
                sp.app_id, sp.tenant_id
            ),
            &format!("application {}", sp.app_id),
        )
    })?;
    Ok(())
}

pub(super) async fn find_service_principal(
    db: &SqlMetaStore,
    id: &ObjectId,
) -> Result<Option<ServicePrincipal>> {
    let row = sqlx::query(
        "SELECT id, app_id, tenant_id, display_name, enabled, created_at \
         FROM service_principals WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(&db.pool)
    .await
    .map_err(backend_err)?;
    row.as_ref().map(service_principal_row).transpose()
}

pub(super) async fn find_service_principal_by_app(
    db: &SqlMetaStore,
    app_id: &uuid::Uuid,
    tenant: &TenantId,
) -> Result<Option<ServicePrincipal>> {
    let row = sqlx::query(
        "SELECT id, app_id, tenant_id, display_name, enabled, created_at \
         FROM service_principals WHERE app_id = $1 AND tenant_id = $2",
    )
    .bind(uuid_text(app_id))
    .bind(tenant.to_string())
    .fetch_optional(&db.pool)
    .await
    .map_err(backend_err)?;
    row.as_ref().map(service_principal_row).transpose()
}

pub(super) async fn list_service_principals(
    db: &SqlMetaStore,
    tenant: &TenantId,
) -> Result<Vec<ServicePrincipal>> {
    let found = sqlx::query(
        "SELECT id, app_id, tenant_id, display_name, enabled, created_at \
         FROM service_principals WHERE tenant_id = $1 ORDER BY lower(display_name), id",
    )
    .bind(tenant.to_string())
    .fetch_all(&db.pool)
    .await
    .map_err(backend_err)?;
    rows(found, service_principal_row)
}

pub(super) async fn list_service_principals_of_app(
    db: &SqlMetaStore,
    app_id: &uuid::Uuid,
) -> Result<Vec<ServicePrincipal>> {
    let found = sqlx::query(
        "SELECT id, app_id, tenant_id, display_name, enabled, created_at \
         FROM service_principals WHERE app_id = $1 ORDER BY created_at, id",
    )
    .bind(uuid_text(app_id))
    .fetch_all(&db.pool)
    .await
    .map_err(backend_err)?;
    rows(found, service_principal_row)
}

pub(super) async fn update_service_principal(
    db: &SqlMetaStore,
    sp: &ServicePrincipal,
) -> Result<()> {
    let done =
        sqlx::query("UPDATE service_principals SET display_name = $2, enabled = $3 WHERE id = $1")
            .bind(sp.id.to_string())
            .bind(sp.display_name.clone())
            .bind(flag(sp.enabled))
            .execute(&db.pool)
            .await
            .map_err(backend_err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: format!("service principal {}", sp.id),
        });
    }
    Ok(())
}

pub(super) async fn delete_service_principal(db: &SqlMetaStore, id: &ObjectId) -> Result<bool> {
    let done = sqlx::query("DELETE FROM service_principals WHERE id = $1")
        .bind(id.to_string())
        .execute(&db.pool)
        .await
        .map_err(backend_err)?;
    Ok(done.rows_affected() > 0)
}

// ---- credentials ------------------------------------------------------------

/// The kind-specific columns: (kind, secret_hash, certificate, sha1, sha256).
type KindColumns = (
    &'static str,
    Option<String>,
    Option<Vec<u8>>,
    Option<String>,
    Option<String>,
);

fn kind_columns(kind: &AppCredentialKind) -> KindColumns {
    match kind {
        AppCredentialKind::Password { hash } => ("password", Some(hash.clone()), None, None, None),
        AppCredentialKind::Certificate { der, sha1, sha256 } => (
            "certificate",
            None,
            Some(der.clone()),
            Some(sha1.clone()),
            Some(sha256.clone()),
        ),
    }
}

const INSERT_CREDENTIAL: &str = "INSERT INTO app_credentials (key_id, application_id, kind, \
     display_name, hint, secret_hash, certificate, sha1, sha256, start_at, end_at, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

fn insert_credential(
    c: &AppCredential,
) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    let (kind, hash, der, sha1, sha256) = kind_columns(&c.kind);
    sqlx::query(INSERT_CREDENTIAL)
        .bind(uuid_text(&c.key_id))
        .bind(c.application_id.to_string())
        .bind(kind)
        .bind(c.display_name.clone())
        .bind(c.hint.clone())
        .bind(hash)
        .bind(der)
        .bind(sha1)
        .bind(sha256)
        .bind(millis(c.start_at))
        .bind(millis(c.end_at))
        .bind(millis(c.created_at))
}

fn credential_write_err(e: sqlx::Error, c: &AppCredential) -> StoreError {
    write_err(
        e,
        &format!("credential {}", c.key_id),
        &format!("application {}", c.application_id),
    )
}

pub(super) async fn add_app_credential(db: &SqlMetaStore, c: &AppCredential) -> Result<()> {
    insert_credential(c)
        .execute(&db.pool)
        .await
        .map_err(|e| credential_write_err(e, c))?;
    Ok(())
}

pub(super) async fn replace_app_passwords(db: &SqlMetaStore, c: &AppCredential) -> Result<u64> {
    let mut tx = db.begin().await?;
    let removed =
        sqlx::query("DELETE FROM app_credentials WHERE application_id = $1 AND kind = 'password'")
            .bind(c.application_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?
            .rows_affected();
    insert_credential(c)
        .execute(&mut *tx)
        .await
        .map_err(|e| credential_write_err(e, c))?;
    tx.commit().await.map_err(backend_err)?;
    Ok(removed)
}

pub(super) async fn list_app_credentials(
    db: &SqlMetaStore,
    application: &ObjectId,
) -> Result<Vec<AppCredential>> {
    let found = sqlx::query(
        "SELECT key_id, application_id, kind, display_name, hint, secret_hash, certificate, sha1, \
         sha256, start_at, end_at, created_at FROM app_credentials WHERE application_id = $1 \
         ORDER BY end_at, key_id",
    )
    .bind(application.to_string())
    .fetch_all(&db.pool)
    .await
    .map_err(backend_err)?;
    rows(found, credential_row)
}

pub(super) async fn delete_app_credential(
    db: &SqlMetaStore,
    application: &ObjectId,
    key_id: &uuid::Uuid,
) -> Result<bool> {
    let done = sqlx::query("DELETE FROM app_credentials WHERE application_id = $1 AND key_id = $2")
        .bind(application.to_string())
        .bind(uuid_text(key_id))
        .execute(&db.pool)
        .await
        .map_err(backend_err)?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn list_soonest_credential_ends(
    db: &SqlMetaStore,
) -> Result<Vec<(uuid::Uuid, OffsetDateTime)>> {
    let found = sqlx::query(
        "SELECT a.app_id AS app_id, MIN(c.end_at) AS soonest FROM app_credentials c \
         JOIN applications a ON a.id = c.application_id GROUP BY a.app_id ORDER BY a.app_id",
    )
    .fetch_all(&db.pool)
    .await
    .map_err(backend_err)?;
    rows(found, |row| {
        Ok((col_uuid(row, "app_id")?, col_time(row, "soonest")?))
    })
}

// ---- federated credentials --------------------------------------------------

pub(super) async fn create_federated_credential(
    db: &SqlMetaStore,
    f: &FederatedCredential,
) -> Result<()> {
    let audiences = serde_json::to_string(&f.audiences).map_err(backend_err)?;
    sqlx::query(
        "INSERT INTO federated_credentials (id, application_id, name, name_lower, issuer, subject, \
         audiences, description, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(uuid_text(&f.id))
    .bind(f.application_id.to_string())
    .bind(f.name.clone())
    .bind(f.name.to_lowercase())
    .bind(f.issuer.clone())
    .bind(f.subject.clone())
    .bind(audiences)
    .bind(f.description.clone())
    .bind(millis(f.created_at))
    .execute(&db.pool)
    .await
    .map_err(|e| {
        write_err(
            e,
            &format!("federated credential {}", f.name),
            &format!("application {}", f.application_id),
        )
    })?;
    Ok(())
}

pub(super) async fn list_federated_credentials(
    db: &SqlMetaStore,
    application: &ObjectId,
) -> Result<Vec<FederatedCredential>> {
    let found = sqlx::query(
        "SELECT id, application_id, name, issuer, subject, audiences, description, created_at \
         FROM federated_credentials WHERE application_id = $1 ORDER BY name_lower, id",
    )
    .bind(application.to_string())
    .fetch_all(&db.pool)
    .await
    .map_err(backend_err)?;
    rows(found, federated_row)
}

pub(super) async fn delete_federated_credential(
    db: &SqlMetaStore,
    application: &ObjectId,
    id: &uuid::Uuid,
) -> Result<bool> {
    let done =
        sqlx::query("DELETE FROM federated_credentials WHERE application_id = $1 AND id = $2")
            .bind(application.to_string())
            .bind(uuid_text(id))
            .execute(&db.pool)
            .await
            .map_err(backend_err)?;
    Ok(done.rows_affected() > 0)
}

// ---- client assertion replay keys ------------------------------------------

pub(super) async fn record_assertion_jti(
    db: &SqlMetaStore,
    key: &str,
    expires_at: OffsetDateTime,
) -> Result<bool> {
    // Expired keys are purged by the janitor; an assertion past its `exp`
    // is refused before it gets here, so a stale row never wrongly blocks.
    let inserted = sqlx::query(
        "INSERT INTO client_assertion_jtis (jti_key, expires_at) VALUES ($1, $2) \
         ON CONFLICT (jti_key) DO NOTHING",
    )
    .bind(key.to_owned())
    .bind(millis(expires_at))
    .execute(&db.pool)
    .await
    .map_err(backend_err)?
    .rows_affected();
    Ok(inserted > 0)
}

pub(super) async fn delete_expired_assertion_jtis(
    db: &SqlMetaStore,
    before: OffsetDateTime,
) -> Result<u64> {
    let done = sqlx::query("DELETE FROM client_assertion_jtis WHERE expires_at < $1")
        .bind(millis(before))
        .execute(&db.pool)
        .await
        .map_err(backend_err)?;
    Ok(done.rows_affected())
}
