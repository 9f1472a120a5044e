//! SQL for compute resources, managed identities and their attachments
//! (issue #5), called by the `MetaStore` impl in the parent module. Same
//! conventions: every statement is a `&'static str`, times are epoch
//! milliseconds, booleans 0/1; resource ids and resource groups are
//! matched through their lowercased `*_lower` columns.

use acrylic_model::{ArmScope, ObjectId, ResourceGroupName, SubscriptionId, TenantId};
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::{
    SqlMetaStore, backend_err, col_bool, col_opt_parse, col_parse, col_str, col_time, col_uuid,
    flag, millis, rows, uuid_text, write_err,
};
use crate::meta::{ComputeResource, ManagedIdentity, Result, StoreError};

fn identity_row(row: &AnyRow) -> Result<ManagedIdentity> {
    Ok(ManagedIdentity {
        principal_id: col_parse(row, "principal_id", ObjectId::parse)?,
        client_id: col_uuid(row, "client_id")?,
        tenant_id: col_parse(row, "tenant_id", TenantId::parse)?,
        resource_id: col_parse(row, "resource_id", ArmScope::parse)?,
        subscription_id: col_parse(row, "subscription_id", SubscriptionId::parse)?,
        resource_group: col_parse(row, "resource_group", ResourceGroupName::parse)?,
        name: col_str(row, "name")?,
        location: col_str(row, "location")?,
        system_assigned: col_bool(row, "system_assigned")?,
        created_at: col_time(row, "created_at")?,
    })
}

fn resource_row(row: &AnyRow) -> Result<ComputeResource> {
    Ok(ComputeResource {
        id: col_parse(row, "id", ArmScope::parse)?,
        tenant_id: col_parse(row, "tenant_id", TenantId::parse)?,
        subscription_id: col_parse(row, "subscription_id", SubscriptionId::parse)?,
        resource_group: col_parse(row, "resource_group", ResourceGroupName::parse)?,
        name: col_str(row, "name")?,
        kind: col_str(row, "kind")?,
        location: col_str(row, "location")?,
        system_identity: col_opt_parse(row, "system_identity", ObjectId::parse)?,
        properties: col_str(row, "properties")?,
        created_at: col_time(row, "created_at")?,
        updated_at: col_time(row, "updated_at")?,
    })
}

fn lower(s: &ArmScope) -> String {
    s.as_str().to_ascii_lowercase()
}

// ---- managed identities -----------------------------------------------------

pub(super) async fn create_managed_identity(db: &SqlMetaStore, mi: &ManagedIdentity) -> Result<()> {
    sqlx::query(
        "INSERT INTO managed_identities (principal_id, client_id, tenant_id, resource_id, \
         resource_id_lower, subscription_id, resource_group, resource_group_lower, name, location, \
         system_assigned, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(mi.principal_id.to_string())
    .bind(uuid_text(&mi.client_id))
    .bind(mi.tenant_id.to_string())
    .bind(mi.resource_id.to_string())
    .bind(lower(&mi.resource_id))
    .bind(mi.subscription_id.to_string())
    .bind(mi.resource_group.to_string())
    .bind(mi.resource_group.as_str().to_ascii_lowercase())
    .bind(mi.name.clone())
    .bind(mi.location.clone())
    .bind(flag(mi.system_assigned))
    .bind(millis(mi.created_at))
    .execute(&db.pool)
    .await
    .map_err(|e| write_err(e, &format!("managed identity {}", mi.resource_id), "tenant"))?;
    Ok(())
}

pub(super) async fn find_managed_identity(
    db: &SqlMetaStore,
    principal_id: &ObjectId,
) -> Result<Option<ManagedIdentity>> {
    let row = sqlx::query(
        "SELECT mi.principal_id, mi.client_id, mi.tenant_id, mi.resource_id, mi.subscription_id, \
         mi.resource_group, mi.name, mi.location, mi.system_assigned, mi.created_at \
         FROM managed_identities mi WHERE mi.principal_id = $1",
    )
    .bind(principal_id.to_string())
    .fetch_optional(&db.pool)
    .await
    .map_err(backend_err)?;
    row.as_ref().map(identity_row).transpose()
}

pub(super) async fn find_managed_identity_by_client_id(
    db: &SqlMetaStore,
    client_id: &uuid::Uuid,
) -> Result<Option<ManagedIdentity>> {
    let row = sqlx::query(
        "SELECT mi.principal_id, mi.client_id, mi.tenant_id, mi.resource_id, mi.subscription_id, \
         mi.resource_group, mi.name, mi.location, mi.system_assigned, mi.created_at \
         FROM managed_identities mi WHERE mi.client_id = $1",
    )
    .bind(uuid_text(client_id))
    .fetch_optional(&db.pool)
    .await
    .map_err(backend_err)?;
    row.as_ref().map(identity_row).transpose()
}

pub(super) async fn find_managed_identity_by_resource_id(
    db: &SqlMetaStore,
    resource_id: &ArmScope,
) -> Result<Option<ManagedIdentity>> {
    let row = sqlx::query(
        "SELECT mi.principal_id, mi.client_id, mi.tenant_id, mi.resource_id, mi.subscription_id, \
         mi.resource_group, mi.name, mi.location, mi.system_assigned, mi.created_at \
         FROM managed_identities mi WHERE mi.resource_id_lower = $1",
    )
    .bind(lower(resource_id))
    .fetch_optional(&db.pool)
    .await
    .map_err(backend_err)?;
    row.as_ref().map(identity_row).transpose()
}

pub(super) async fn list_user_assigned_identities(
    db: &SqlMetaStore,
    sub: &SubscriptionId,
    rg: Option<&ResourceGroupName>,
) -> Result<Vec<ManagedIdentity>> {
    let found = match rg {
        Some(rg) => sqlx::query(
            "SELECT mi.principal_id, mi.client_id, mi.tenant_id, mi.resource_id, \
             mi.subscription_id, mi.resource_group, mi.name, mi.location, mi.system_assigned, mi.created_at \
             FROM managed_identities mi WHERE mi.system_assigned = 0 \
             AND mi.subscription_id = $1 AND mi.resource_group_lower = $2 \
             ORDER BY lower(mi.name), mi.principal_id",
        )
        .bind(sub.to_string())
        .bind(rg.as_str().to_ascii_lowercase()),
        None => sqlx::query(
            "SELECT mi.principal_id, mi.client_id, mi.tenant_id, mi.resource_id, \
             mi.subscription_id, mi.resource_group, mi.name, mi.location, mi.system_assigned, mi.created_at \
             FROM managed_identities mi WHERE mi.system_assigned = 0 \
             AND mi.subscription_id = $1 ORDER BY lower(mi.name), mi.principal_id",
        )
        .bind(sub.to_string()),
    }
    .fetch_all(&db.pool)
    .await
    .map_err(backend_err)?;
    rows(found, identity_row)
}

pub(super) async fn delete_managed_identity(
    db: &SqlMetaStore,
    principal_id: &ObjectId,
) -> Result<bool> {
    let done = sqlx::query("DELETE FROM managed_identities WHERE principal_id = $1")
        .bind(principal_id.to_string())
        .execute(&db.pool)
        .await
        .map_err(|e| {
            // A foreign-key refusal: a resource still has it as its own.
            match write_err(e, "managed identity", "managed identity") {
                StoreError::NotFound { .. } => StoreError::Conflict {
                    what: format!("system-assigned identity {principal_id} of a resource"),
                },
                other => other,
            }
        })?;
    Ok(done.rows_affected() > 0)
}

// ---- compute resources ------------------------------------------------------

pub(super) async fn create_compute_resource(db: &SqlMetaStore, r: &ComputeResource) -> Result<()> {
    sqlx::query(
        "INSERT INTO compute_resources (id, id_lower, tenant_id, subscription_id, resource_group, \
         resource_group_lower, name, kind, location, system_identity, properties, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(r.id.to_string())
    .bind(lower(&r.id))
    .bind(r.tenant_id.to_string())
    .bind(r.subscription_id.to_string())
    .bind(r.resource_group.to_string())
    .bind(r.resource_group.as_str().to_ascii_lowercase())
    .bind(r.name.clone())
    .bind(r.kind.clone())
    .bind(r.location.clone())
    .bind(r.system_identity.map(|i| i.to_string()))
    .bind(r.properties.clone())
    .bind(millis(r.created_at))
    .bind(millis(r.updated_at))
    .execute(&db.pool)
    .await
    .map_err(|e| write_err(e, &format!("resource {}", r.id), "system-assigned identity"))?;
    Ok(())
}

pub(super) async fn find_compute_resource(
    db: &SqlMetaStore,
    id: &ArmScope,
) -> Result<Option<ComputeResource>> {
    let row = sqlx::query(
        "SELECT id, tenant_id, subscription_id, resource_group, name, kind, location, \
         system_identity, properties, created_at, updated_at \
         FROM compute_resources WHERE id_lower = $1",
    )
    .bind(lower(id))
    .fetch_optional(&db.pool)
    .await
    .map_err(backend_err)?;
    row.as_ref().map(resource_row).transpose()
}

pub(super) async fn list_compute_resources(
    db: &SqlMetaStore,
    sub: &SubscriptionId,
    rg: Option<&ResourceGroupName>,
) -> Result<Vec<ComputeResource>> {
    let found = match rg {
        Some(rg) => sqlx::query(
            "SELECT id, tenant_id, subscription_id, resource_group, name, kind, location, \
             system_identity, properties, created_at, updated_at FROM compute_resources \
             WHERE subscription_id = $1 AND resource_group_lower = $2 \
             ORDER BY lower(name), id_lower",
        )
        .bind(sub.to_string())
        .bind(rg.as_str().to_ascii_lowercase()),
        None => sqlx::query(
            "SELECT id, tenant_id, subscription_id, resource_group, name, kind, location, \
             system_identity, properties, created_at, updated_at FROM compute_resources \
             WHERE subscription_id = $1 ORDER BY lower(name), id_lower",
        )
        .bind(sub.to_string()),
    }
    .fetch_all(&db.pool)
    .await
    .map_err(backend_err)?;
    rows(found, resource_row)
}

pub(super) async fn update_compute_resource(db: &SqlMetaStore, r: &ComputeResource) -> Result<()> {
    let done = sqlx::query(
        "UPDATE compute_resources SET location = $2, system_identity = $3, properties = $4, \
         updated_at = $5 WHERE id_lower = $1",
    )
    .bind(lower(&r.id))
    .bind(r.location.clone())
    .bind(r.system_identity.map(|i| i.to_string()))
    .bind(r.properties.clone())
    .bind(millis(r.updated_at))
    .execute(&db.pool)
    .await
    .map_err(|e| write_err(e, &format!("resource {}", r.id), "system-assigned identity"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: format!("resource {}", r.id),
        });
    }
    Ok(())
}

pub(super) async fn delete_compute_resource(db: &SqlMetaStore, id: &ArmScope) -> Result<bool> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM resource_identities WHERE resource_id_lower = $1")
        .bind(lower(id))
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
    let done = sqlx::query("DELETE FROM compute_resources WHERE id_lower = $1")
        .bind(lower(id))
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
    tx.commit().await.map_err(backend_err)?;
    Ok(done.rows_affected() > 0)
}

// ---- attachments ------------------------------------------------------------

pub(super) async fn attach_identity(
    db: &SqlMetaStore,
    resource: &ArmScope,
    identity: &ObjectId,
    at: OffsetDateTime,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO resource_identities (resource_id_lower, identity_id, created_at) \
         VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(lower(resource))
    .bind(identity.to_string())
    .bind(millis(at))
    .execute(&db.pool)
    .await
    .map_err(|e| write_err(e, "attachment", "resource or identity"))?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn detach_identity(
    db: &SqlMetaStore,
    resource: &ArmScope,
    identity: &ObjectId,
) -> Result<bool> {
    let done = sqlx::query(
        "DELETE FROM resource_identities WHERE resource_id_lower = $1 AND identity_id = $2",
    )
    .bind(lower(resource))
    .bind(identity.to_string())
    .execute(&db.pool)
    .await
    .map_err(backend_err)?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn list_attached_identities(
    db: &SqlMetaStore,
    resource: &ArmScope,
) -> Result<Vec<ManagedIdentity>> {
    let found = sqlx::query(
        "SELECT mi.principal_id, mi.client_id, mi.tenant_id, mi.resource_id, mi.subscription_id, \
         mi.resource_group, mi.name, mi.location, mi.system_assigned, mi.created_at \
         FROM resource_identities ri JOIN managed_identities mi ON mi.principal_id = ri.identity_id \
         WHERE ri.resource_id_lower = $1 ORDER BY lower(mi.name), mi.principal_id",
    )
    .bind(lower(resource))
    .fetch_all(&db.pool)
    .await
    .map_err(backend_err)?;
    rows(found, identity_row)
}

pub(super) async fn list_resources_of_identity(
    db: &SqlMetaStore,
    identity: &ObjectId,
) -> Result<Vec<ArmScope>> {
    let found = sqlx::query(
        "SELECT cr.id FROM resource_identities ri \
         JOIN compute_resources cr ON cr.id_lower = ri.resource_id_lower \
         WHERE ri.identity_id = $1 ORDER BY cr.id_lower",
    )
    .bind(identity.to_string())
    .fetch_all(&db.pool)
    .await
    .map_err(backend_err)?;
    rows(found, |r| col_parse(r, "id", ArmScope::parse))
}
