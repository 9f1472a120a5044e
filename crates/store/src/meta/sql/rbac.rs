//! SQL for custom role definitions and the role-assignment lookups of the
//! RBAC control plane (issue #3), called by the `MetaStore` impl in the
//! parent module. Same conventions: every statement is a `&'static str`
//! except the one `IN` list of numbered placeholders, which says so; times
//! are epoch milliseconds; lists are JSON arrays in TEXT columns.

use acrylic_model::{ArmScope, TenantId};
use sqlx::any::AnyRow;

use super::{
    SqlMetaStore, backend_err, col_parse, col_str, col_time, col_uuid, millis, role_assignment_row,
    rows, uuid_text, write_err,
};
use crate::meta::{Result, RoleAssignment, RoleDefinitionRecord, StoreError};

fn json_list(list: &[String]) -> Result<String> {
    serde_json::to_string(list).map_err(backend_err)
}

fn col_list(row: &AnyRow, col: &str) -> Result<Vec<String>> {
    let s = col_str(row, col)?;
    serde_json::from_str(&s).map_err(|e| StoreError::Backend(format!("column {col}: {e}")))
}

fn role_definition_row(row: &AnyRow) -> Result<RoleDefinitionRecord> {
    let scopes = col_list(row, "assignable_scopes")?
        .iter()
        .map(|s| {
            ArmScope::parse(s)
                .map_err(|e| StoreError::Backend(format!("column assignable_scopes: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RoleDefinitionRecord {
        id: col_uuid(row, "id")?,
        tenant_id: col_parse(row, "tenant_id", TenantId::parse)?,
        name: col_str(row, "role_name")?,
        description: col_str(row, "description")?,
        actions: col_list(row, "actions")?,
        not_actions: col_list(row, "not_actions")?,
        data_actions: col_list(row, "data_actions")?,
        not_data_actions: col_list(row, "not_data_actions")?,
        assignable_scopes: scopes,
        created_at: col_time(row, "created_at")?,
        updated_at: col_time(row, "updated_at")?,
    })
}

fn scope_strings(d: &RoleDefinitionRecord) -> Vec<String> {
    d.assignable_scopes
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect()
}

pub(super) async fn create_role_definition(
    store: &SqlMetaStore,
    d: &RoleDefinitionRecord,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO role_definitions (id, tenant_id, role_name, role_name_lower, description, \
         actions, not_actions, data_actions, not_data_actions, assignable_scopes, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(uuid_text(&d.id))
    .bind(d.tenant_id.to_string())
    .bind(d.name.clone())
    .bind(d.name.to_lowercase())
    .bind(d.description.clone())
    .bind(json_list(&d.actions)?)
    .bind(json_list(&d.not_actions)?)
    .bind(json_list(&d.data_actions)?)
    .bind(json_list(&d.not_data_actions)?)
    .bind(json_list(&scope_strings(d))?)
    .bind(millis(d.created_at))
    .bind(millis(d.updated_at))
    .execute(&store.pool)
    .await
    .map_err(|e| write_err(e, &format!("role definition {}", d.name), "tenant"))?;
    Ok(())
}

pub(super) async fn update_role_definition(
    store: &SqlMetaStore,
    d: &RoleDefinitionRecord,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE role_definitions SET role_name = $2, role_name_lower = $3, description = $4, \
         actions = $5, not_actions = $6, data_actions = $7, not_data_actions = $8, \
         assignable_scopes = $9, updated_at = $10 WHERE id = $1",
    )
    .bind(uuid_text(&d.id))
    .bind(d.name.clone())
    .bind(d.name.to_lowercase())
    .bind(d.description.clone())
    .bind(json_list(&d.actions)?)
    .bind(json_list(&d.not_actions)?)
    .bind(json_list(&d.data_actions)?)
    .bind(json_list(&d.not_data_actions)?)
    .bind(json_list(&scope_strings(d))?)
    .bind(millis(d.updated_at))
    .execute(&store.pool)
    .await
    .map_err(|e| write_err(e, &format!("role definition {}", d.name), "tenant"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: format!("role definition {}", d.id),
        });
    }
    Ok(())
}

pub(super) async fn find_role_definition(
    store: &SqlMetaStore,
    id: &uuid::Uuid,
) -> Result<Option<RoleDefinitionRecord>> {
    let row = sqlx::query(
        "SELECT id, tenant_id, role_name, description, actions, not_actions, data_actions, \
         not_data_actions, assignable_scopes, created_at, updated_at FROM role_definitions WHERE id = $1",
    )
    .bind(uuid_text(id))
    .fetch_optional(&store.pool)
    .await
    .map_err(backend_err)?;
    row.as_ref().map(role_definition_row).transpose()
}

pub(super) async fn find_role_definition_by_name(
    store: &SqlMetaStore,
    tenant: &TenantId,
    name: &str,
) -> Result<Option<RoleDefinitionRecord>> {
    let row = sqlx::query(
        "SELECT id, tenant_id, role_name, description, actions, not_actions, data_actions, \
         not_data_actions, assignable_scopes, created_at, updated_at FROM role_definitions WHERE tenant_id = $1 AND role_name_lower = $2",
    )
    .bind(tenant.to_string())
    .bind(name.to_lowercase())
    .fetch_optional(&store.pool)
    .await
    .map_err(backend_err)?;
    row.as_ref().map(role_definition_row).transpose()
}

pub(super) async fn list_role_definitions(
    store: &SqlMetaStore,
    tenant: &TenantId,
) -> Result<Vec<RoleDefinitionRecord>> {
    let found = sqlx::query(
        "SELECT id, tenant_id, role_name, description, actions, not_actions, data_actions, \
         not_data_actions, assignable_scopes, created_at, updated_at FROM role_definitions WHERE tenant_id = $1 ORDER BY role_name_lower, id",
    )
    .bind(tenant.to_string())
    .fetch_all(&store.pool)
    .await
    .map_err(backend_err)?;
    rows(found, role_definition_row)
}

pub(super) async fn delete_role_definition(store: &SqlMetaStore, id: &uuid::Uuid) -> Result<bool> {
    let done = sqlx::query("DELETE FROM role_definitions WHERE id = $1")
        .bind(uuid_text(id))
        .execute(&store.pool)
        .await
        .map_err(backend_err)?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn find_role_assignment(
    store: &SqlMetaStore,
    id: &uuid::Uuid,
) -> Result<Option<RoleAssignment>> {
    let row = sqlx::query(
        "SELECT id, scope, role_definition_id, principal_id, principal_type, abac_condition, created_at FROM role_assignments WHERE id = $1",
    )
    .bind(uuid_text(id))
    .fetch_optional(&store.pool)
    .await
    .map_err(backend_err)?;
    row.as_ref().map(role_assignment_row).transpose()
}

pub(super) async fn list_role_assignments_at(
    store: &SqlMetaStore,
    scopes: &[ArmScope],
) -> Result<Vec<RoleAssignment>> {
    let mut keys: Vec<String> = scopes
        .iter()
        .map(|s| s.as_str().to_ascii_lowercase())
        .collect();
    keys.sort();
    keys.dedup();
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    // Built at run time: a list of numbered placeholders, one per scope.
    // No value is ever formatted into the text.
    let placeholders: Vec<String> = (1..=keys.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT id, scope, role_definition_id, principal_id, principal_type, abac_condition, \
         created_at FROM role_assignments WHERE scope_lower IN ({}) ORDER BY created_at, id",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for k in keys {
        query = query.bind(k);
    }
    let found = query.fetch_all(&store.pool).await.map_err(backend_err)?;
    rows(found, role_assignment_row)
}

pub(super) async fn list_role_assignments_of_role(
    store: &SqlMetaStore,
    role: &uuid::Uuid,
) -> Result<Vec<RoleAssignment>> {
    let found = sqlx::query(
        "SELECT id, scope, role_definition_id, principal_id, principal_type, abac_condition, created_at FROM role_assignments WHERE role_definition_id = $1 \
         ORDER BY created_at, id",
    )
    .bind(uuid_text(role))
    .fetch_all(&store.pool)
    .await
    .map_err(backend_err)?;
    rows(found, role_assignment_row)
}
