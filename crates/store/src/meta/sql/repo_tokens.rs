//! SQL for scope maps and repository-scoped tokens (issue #4), called by
//! the `MetaStore` impl in the parent module. Same conventions: every
//! statement is a `&'static str`; times are epoch milliseconds, booleans
//! 0/1, action lists JSON arrays in TEXT columns; names are looked up by
//! their lowercased copy (`name_lower`).
//!
//! A token naming a user-defined scope map carries that map's lowercased
//! name in `user_scope_map`, under a foreign key: creating a token for a
//! map that does not exist, or deleting a map a token still uses, fails in
//! the database itself, so two replicas racing cannot leave a token
//! pointing at nothing.

use acrylic_model::RegistryId;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::{
    SqlMetaStore, backend_err, col_bool, col_opt_str, col_opt_time, col_parse, col_str, col_time,
    flag, millis, rows, write_err,
};
use crate::meta::{
    RepositoryTokenRecord, Result, ScopeMapRecord, StoreError, TokenPassword, TokenPasswordName,
};

fn scope_map_row(row: &AnyRow) -> Result<ScopeMapRecord> {
    let actions = col_str(row, "actions")?;
    Ok(ScopeMapRecord {
        registry_id: col_parse(row, "registry_id", RegistryId::parse)?,
        name: col_str(row, "name")?,
        description: col_opt_str(row, "description")?,
        actions: serde_json::from_str(&actions)
            .map_err(|e| StoreError::Backend(format!("column actions: {e}")))?,
        created_at: col_time(row, "created_at")?,
        updated_at: col_time(row, "updated_at")?,
    })
}

/// One password slot: all three columns set, or the hash NULL (empty).
fn password_columns(row: &AnyRow, which: TokenPasswordName) -> Result<Option<TokenPassword>> {
    let (hash, created, expiry) = match which {
        TokenPasswordName::Password1 => {
            ("password1_hash", "password1_created_at", "password1_expiry")
        }
        TokenPasswordName::Password2 => {
            ("password2_hash", "password2_created_at", "password2_expiry")
        }
    };
    let Some(hash) = col_opt_str(row, hash)? else {
        return Ok(None);
    };
    let created_at = col_opt_time(row, created)?
        .ok_or_else(|| StoreError::Backend(format!("column {created} is NULL beside a hash")))?;
    Ok(Some(TokenPassword {
        hash,
        created_at,
        expiry: col_opt_time(row, expiry)?,
    }))
}

fn token_row(row: &AnyRow) -> Result<RepositoryTokenRecord> {
    Ok(RepositoryTokenRecord {
        registry_id: col_parse(row, "registry_id", RegistryId::parse)?,
        name: col_str(row, "name")?,
        scope_map: col_str(row, "scope_map")?,
        system_scope_map: col_opt_str(row, "user_scope_map")?.is_none(),
        enabled: col_bool(row, "enabled")?,
        password1: password_columns(row, TokenPasswordName::Password1)?,
        password2: password_columns(row, TokenPasswordName::Password2)?,
        created_at: col_time(row, "created_at")?,
        updated_at: col_time(row, "updated_at")?,
    })
}

fn actions_json(actions: &[String]) -> Result<String> {
    serde_json::to_string(actions).map_err(backend_err)
}

/// The foreign-key column: the lowercased name of a user-defined map.
fn user_scope_map(t: &RepositoryTokenRecord) -> Option<String> {
    (!t.system_scope_map).then(|| t.scope_map.to_lowercase())
}

fn password_values(p: Option<&TokenPassword>) -> (Option<String>, Option<i64>, Option<i64>) {
    match p {
        Some(p) => (
            Some(p.hash.clone()),
            Some(millis(p.created_at)),
            p.expiry.map(millis),
        ),
        None => (None, None, None),
    }
}

pub(super) async fn create_scope_map(store: &SqlMetaStore, m: &ScopeMapRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO scope_maps (registry_id, name, name_lower, description, actions, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(m.registry_id.as_str())
    .bind(m.name.clone())
    .bind(m.name.to_lowercase())
    .bind(m.description.clone())
    .bind(actions_json(&m.actions)?)
    .bind(millis(m.created_at))
    .bind(millis(m.updated_at))
    .execute(&store.pool)
    .await
    .map_err(|e| write_err(e, &format!("scope map {}", m.name), "registry"))?;
    Ok(())
}

pub(super) async fn update_scope_map(store: &SqlMetaStore, m: &ScopeMapRecord) -> Result<()> {
    let done = sqlx::query(
        "UPDATE scope_maps SET description = $3, actions = $4, updated_at = $5 \
         WHERE registry_id = $1 AND name_lower = $2",
    )
    .bind(m.registry_id.as_str())
    .bind(m.name.to_lowercase())
    .bind(m.description.clone())
    .bind(actions_json(&m.actions)?)
    .bind(millis(m.updated_at))
    .execute(&store.pool)
    .await
    .map_err(backend_err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: format!("scope map {}", m.name),
        });
    }
    Ok(())
}

pub(super) async fn find_scope_map(
    store: &SqlMetaStore,
    reg: &RegistryId,
    name: &str,
) -> Result<Option<ScopeMapRecord>> {
    let row = sqlx::query(
        "SELECT registry_id, name, description, actions, created_at, updated_at FROM scope_maps \
         WHERE registry_id = $1 AND name_lower = $2",
    )
    .bind(reg.as_str())
    .bind(name.to_lowercase())
    .fetch_optional(&store.pool)
    .await
    .map_err(backend_err)?;
    row.as_ref().map(scope_map_row).transpose()
}

pub(super) async fn list_scope_maps(
    store: &SqlMetaStore,
    reg: &RegistryId,
) -> Result<Vec<ScopeMapRecord>> {
    let found = sqlx::query(
        "SELECT registry_id, name, description, actions, created_at, updated_at FROM scope_maps \
         WHERE registry_id = $1 ORDER BY name_lower",
    )
    .bind(reg.as_str())
    .fetch_all(&store.pool)
    .await
    .map_err(backend_err)?;
    rows(found, scope_map_row)
}

pub(super) async fn delete_scope_map(
    store: &SqlMetaStore,
    reg: &RegistryId,
    name: &str,
) -> Result<bool> {
    let done = sqlx::query("DELETE FROM scope_maps WHERE registry_id = $1 AND name_lower = $2")
        .bind(reg.as_str())
        .bind(name.to_lowercase())
        .execute(&store.pool)
        .await
        .map_err(|e| match &e {
            // The tokens' foreign key: the map is in use.
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::Conflict {
                what: format!("a token using scope map {name}"),
            },
            _ => backend_err(e),
        })?;
    Ok(done.rows_affected() > 0)
}

/// `SELECT <every token column> FROM repository_tokens`, as a literal.
macro_rules! select_tokens {
    () => {
        "SELECT registry_id, name, scope_map, user_scope_map, enabled, password1_hash, \
         password1_created_at, password1_expiry, password2_hash, password2_created_at, \
         password2_expiry, created_at, updated_at FROM repository_tokens"
    };
}

pub(super) async fn create_repository_token(
    store: &SqlMetaStore,
    t: &RepositoryTokenRecord,
) -> Result<()> {
    let (h1, c1, e1) = password_values(t.password1.as_ref());
    let (h2, c2, e2) = password_values(t.password2.as_ref());
    sqlx::query(
        "INSERT INTO repository_tokens (registry_id, name, name_lower, scope_map, user_scope_map, \
         enabled, password1_hash, password1_created_at, password1_expiry, password2_hash, \
         password2_created_at, password2_expiry, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(t.registry_id.as_str())
    .bind(t.name.clone())
    .bind(t.name.to_lowercase())
    .bind(t.scope_map.clone())
    .bind(user_scope_map(t))
    .bind(flag(t.enabled))
    .bind(h1)
    .bind(c1)
    .bind(e1)
    .bind(h2)
    .bind(c2)
    .bind(e2)
    .bind(millis(t.created_at))
    .bind(millis(t.updated_at))
    .execute(&store.pool)
    .await
    .map_err(|e| {
        write_err(
            e,
            &format!("token {}", t.name),
            &format!("registry or scope map {}", t.scope_map),
        )
    })?;
    Ok(())
}

pub(super) async fn update_repository_token(
    store: &SqlMetaStore,
    t: &RepositoryTokenRecord,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE repository_tokens SET scope_map = $3, user_scope_map = $4, enabled = $5, \
         updated_at = $6 WHERE registry_id = $1 AND name_lower = $2",
    )
    .bind(t.registry_id.as_str())
    .bind(t.name.to_lowercase())
    .bind(t.scope_map.clone())
    .bind(user_scope_map(t))
    .bind(flag(t.enabled))
    .bind(millis(t.updated_at))
    .execute(&store.pool)
    .await
    .map_err(|e| {
        write_err(
            e,
            &format!("token {}", t.name),
            &format!("scope map {}", t.scope_map),
        )
    })?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: format!("token {}", t.name),
        });
    }
    Ok(())
}

pub(super) async fn set_repository_token_password(
    store: &SqlMetaStore,
    reg: &RegistryId,
    name: &str,
    which: TokenPasswordName,
    password: Option<&TokenPassword>,
    at: OffsetDateTime,
) -> Result<()> {
    let sql = match which {
        TokenPasswordName::Password1 => {
            "UPDATE repository_tokens SET password1_hash = $3, password1_created_at = $4, \
             password1_expiry = $5, updated_at = $6 WHERE registry_id = $1 AND name_lower = $2"
        }
        TokenPasswordName::Password2 => {
            "UPDATE repository_tokens SET password2_hash = $3, password2_created_at = $4, \
             password2_expiry = $5, updated_at = $6 WHERE registry_id = $1 AND name_lower = $2"
        }
    };
    let (hash, created, expiry) = password_values(password);
    let done = sqlx::query(sql)
        .bind(reg.as_str())
        .bind(name.to_lowercase())
        .bind(hash)
        .bind(created)
        .bind(expiry)
        .bind(millis(at))
        .execute(&store.pool)
        .await
        .map_err(backend_err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: format!("token {name}"),
        });
    }
    Ok(())
}

pub(super) async fn find_repository_token(
    store: &SqlMetaStore,
    reg: &RegistryId,
    name: &str,
) -> Result<Option<RepositoryTokenRecord>> {
    let row = sqlx::query(concat!(
        select_tokens!(),
        " WHERE registry_id = $1 AND name_lower = $2"
    ))
    .bind(reg.as_str())
    .bind(name.to_lowercase())
    .fetch_optional(&store.pool)
    .await
    .map_err(backend_err)?;
    row.as_ref().map(token_row).transpose()
}

pub(super) async fn list_repository_tokens(
    store: &SqlMetaStore,
    reg: &RegistryId,
) -> Result<Vec<RepositoryTokenRecord>> {
    let found = sqlx::query(concat!(
        select_tokens!(),
        " WHERE registry_id = $1 ORDER BY name_lower"
    ))
    .bind(reg.as_str())
    .fetch_all(&store.pool)
    .await
    .map_err(backend_err)?;
    rows(found, token_row)
}

pub(super) async fn delete_repository_token(
    store: &SqlMetaStore,
    reg: &RegistryId,
    name: &str,
) -> Result<bool> {
    let done =
        sqlx::query("DELETE FROM repository_tokens WHERE registry_id = $1 AND name_lower = $2")
            .bind(reg.as_str())
            .bind(name.to_lowercase())
            .execute(&store.pool)
            .await
            .map_err(backend_err)?;
    Ok(done.rows_affected() > 0)
}
