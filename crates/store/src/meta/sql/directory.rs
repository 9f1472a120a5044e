//! SQL for the directory's sessions, device codes and groups (issue #3),
//! called by the `MetaStore` impl in the parent module. Same conventions:
//! every statement is a `&'static str`, times are epoch milliseconds.

use acrylic_model::{ObjectId, TenantId};
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::{
    SqlMetaStore, backend_err, col_i64, col_opt_parse, col_opt_time, col_parse, col_str, col_time,
    col_uuid, millis, rows, uuid_text, write_err,
};
use crate::meta::{
    DeviceCode, DeviceCodeStatus, DirectorySession, Group, GroupMember, PrincipalType, Result,
    StoreError,
};

fn session_row(row: &AnyRow) -> Result<DirectorySession> {
    Ok(DirectorySession {
        token_hash: col_str(row, "token_hash")?,
        family_id: col_uuid(row, "family_id")?,
        user_id: col_parse(row, "user_id", ObjectId::parse)?,
        tenant_id: col_parse(row, "tenant_id", TenantId::parse)?,
        client_id: col_str(row, "client_id")?,
        scope: col_str(row, "scope")?,
        auth_time: col_time(row, "auth_time")?,
        created_at: col_time(row, "created_at")?,
        expires_at: col_time(row, "expires_at")?,
        used_at: col_opt_time(row, "used_at")?,
    })
}

fn device_code_row(row: &AnyRow) -> Result<DeviceCode> {
    let status = col_str(row, "status")?;
    let interval = col_i64(row, "interval_secs")?;
    Ok(DeviceCode {
        device_code_hash: col_str(row, "device_code_hash")?,
        user_code_hash: col_str(row, "user_code_hash")?,
        client_id: col_str(row, "client_id")?,
        tenant_id: col_opt_parse(row, "tenant_id", TenantId::parse)?,
        scope: col_str(row, "scope")?,
        status: DeviceCodeStatus::parse(&status)
            .ok_or_else(|| StoreError::Backend(format!("unknown device code status {status:?}")))?,
        user_id: col_opt_parse(row, "user_id", ObjectId::parse)?,
        interval_secs: u32::try_from(interval)
            .map_err(|_| StoreError::Backend(format!("interval_secs {interval} out of range")))?,
        last_polled_at: col_opt_time(row, "last_polled_at")?,
        created_at: col_time(row, "created_at")?,
        expires_at: col_time(row, "expires_at")?,
    })
}

fn group_row(row: &AnyRow) -> Result<Group> {
    Ok(Group {
        id: col_parse(row, "id", ObjectId::parse)?,
        tenant_id: col_parse(row, "tenant_id", TenantId::parse)?,
        display_name: col_str(row, "display_name")?,
        mail_nickname: col_str(row, "mail_nickname")?,
        description: super::col_opt_str(row, "description")?,
        created_at: col_time(row, "created_at")?,
    })
}

fn member_row(row: &AnyRow) -> Result<GroupMember> {
    let kind = col_str(row, "member_type")?;
    Ok(GroupMember {
        group_id: col_parse(row, "group_id", ObjectId::parse)?,
        member_id: col_parse(row, "member_id", ObjectId::parse)?,
        member_type: PrincipalType::parse(&kind)
            .ok_or_else(|| StoreError::Backend(format!("unknown member type {kind:?}")))?,
        created_at: col_time(row, "created_at")?,
    })
}

// ---- sessions ----------------------------------------------------------------

pub(super) async fn insert_session(db: &SqlMetaStore, s: &DirectorySession) -> Result<()> {
    sqlx::query(
        "INSERT INTO directory_sessions (token_hash, family_id, user_id, tenant_id, client_id, \
         scope, auth_time, created_at, expires_at, used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&s.token_hash)
    .bind(uuid_text(&s.family_id))
    .bind(s.user_id.to_string())
    .bind(s.tenant_id.to_string())
    .bind(&s.client_id)
    .bind(&s.scope)
    .bind(millis(s.auth_time))
    .bind(millis(s.created_at))
    .bind(millis(s.expires_at))
    .bind(s.used_at.map(millis))
    .execute(&db.pool)
    .await
    .map_err(|e| write_err(e, "directory session", "user"))?;
    Ok(())
}

pub(super) async fn find_session(
    db: &SqlMetaStore,
    token_hash: &str,
) -> Result<Option<DirectorySession>> {
    sqlx::query(
        "SELECT token_hash, family_id, user_id, tenant_id, client_id, scope, auth_time, \
         created_at, expires_at, used_at FROM directory_sessions WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(&db.pool)
    .await
    .map_err(backend_err)?
    .map(|r| session_row(&r))
    .transpose()
}

pub(super) async fn mark_session_used(
    db: &SqlMetaStore,
    token_hash: &str,
    at: OffsetDateTime,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE directory_sessions SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL",
    )
    .bind(token_hash)
    .bind(millis(at))
    .execute(&db.pool)
    .await
    .map_err(backend_err)?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn delete_family(db: &SqlMetaStore, family: &uuid::Uuid) -> Result<u64> {
    let done = sqlx::query("DELETE FROM directory_sessions WHERE family_id = $1")
        .bind(uuid_text(family))
        .execute(&db.pool)
        .await
        .map_err(backend_err)?;
    Ok(done.rows_affected())
}

pub(super) async fn delete_sessions_of_user(db: &SqlMetaStore, user: &ObjectId) -> Result<u64> {
    let done = sqlx::query("DELETE FROM directory_sessions WHERE user_id = $1")
        .bind(user.to_string())
        .execute(&db.pool)
        .await
        .map_err(backend_err)?;
    Ok(done.rows_affected())
}

pub(super) async fn delete_expired_sessions(
    db: &SqlMetaStore,
    before: OffsetDateTime,
) -> Result<u64> {
    let done = sqlx::query("DELETE FROM directory_sessions WHERE expires_at < $1")
        .bind(millis(before))
        .execute(&db.pool)
        .await
        .map_err(backend_err)?;
    Ok(done.rows_affected())
}

// ---- device codes ------------------------------------------------------------

pub(super) async fn insert_device_code(db: &SqlMetaStore, d: &DeviceCode) -> Result<()> {
    sqlx::query(
        "INSERT INTO device_codes (device_code_hash, user_code_hash, client_id, tenant_id, scope, \
         status, user_id, interval_secs, last_polled_at, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&d.device_code_hash)
    .bind(&d.user_code_hash)
    .bind(&d.client_id)
    .bind(d.tenant_id.map(|t| t.to_string()))
    .bind(&d.scope)
    .bind(d.status.as_str())
    .bind(d.user_id.map(|u| u.to_string()))
    .bind(i64::from(d.interval_secs))
    .bind(d.last_polled_at.map(millis))
    .bind(millis(d.created_at))
    .bind(millis(d.expires_at))
    .execute(&db.pool)
    .await
    .map_err(|e| write_err(e, "device code or user code", "tenant"))?;
    Ok(())
}

pub(super) async fn find_device_code(
    db: &SqlMetaStore,
    device_code_hash: &str,
) -> Result<Option<DeviceCode>> {
    sqlx::query(
        "SELECT device_code_hash, user_code_hash, client_id, tenant_id, scope, status, user_id, \
         interval_secs, last_polled_at, created_at, expires_at \
         FROM device_codes WHERE device_code_hash = $1",
    )
    .bind(device_code_hash)
    .fetch_optional(&db.pool)
    .await
    .map_err(backend_err)?
    .map(|r| device_code_row(&r))
    .transpose()
}

pub(super) async fn find_device_code_by_user_code(
    db: &SqlMetaStore,
    user_code_hash: &str,
) -> Result<Option<DeviceCode>> {
    sqlx::query(
        "SELECT device_code_hash, user_code_hash, client_id, tenant_id, scope, status, user_id, \
         interval_secs, last_polled_at, created_at, expires_at \
         FROM device_codes WHERE user_code_hash = $1",
    )
    .bind(user_code_hash)
    .fetch_optional(&db.pool)
    .await
    .map_err(backend_err)?
    .map(|r| device_code_row(&r))
    .transpose()
}

pub(super) async fn record_device_code_poll(
    db: &SqlMetaStore,
    device_code_hash: &str,
    at: OffsetDateTime,
    interval_secs: u32,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE device_codes SET last_polled_at = $2, interval_secs = $3 \
         WHERE device_code_hash = $1",
    )
    .bind(device_code_hash)
    .bind(millis(at))
    .bind(i64::from(interval_secs))
    .execute(&db.pool)
    .await
    .map_err(backend_err)?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn decide_device_code(
    db: &SqlMetaStore,
    device_code_hash: &str,
    approved: bool,
    user: &ObjectId,
    at: OffsetDateTime,
) -> Result<bool> {
    let status = if approved {
        DeviceCodeStatus::Approved
    } else {
        DeviceCodeStatus::Denied
    };
    let done = sqlx::query(
        "UPDATE device_codes SET status = $2, user_id = $3 \
         WHERE device_code_hash = $1 AND status = $4 AND expires_at > $5",
    )
    .bind(device_code_hash)
    .bind(status.as_str())
    .bind(user.to_string())
    .bind(DeviceCodeStatus::Pending.as_str())
    .bind(millis(at))
    .execute(&db.pool)
    .await
    .map_err(backend_err)?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn redeem_device_code(db: &SqlMetaStore, device_code_hash: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM device_codes WHERE device_code_hash = $1 AND status = $2")
        .bind(device_code_hash)
        .bind(DeviceCodeStatus::Approved.as_str())
        .execute(&db.pool)
        .await
        .map_err(backend_err)?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn delete_expired_device_codes(
    db: &SqlMetaStore,
    before: OffsetDateTime,
) -> Result<u64> {
    let done = sqlx::query("DELETE FROM device_codes WHERE expires_at < $1")
        .bind(millis(before))
        .execute(&db.pool)
        .await
        .map_err(backend_err)?;
    Ok(done.rows_affected())
}

// ---- groups ------------------------------------------------------------------

pub(super) async fn create_group(db: &SqlMetaStore, g: &Group) -> Result<()> {
    sqlx::query(
        "INSERT INTO directory_groups (id, tenant_id, display_name, mail_nickname, description, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(g.id.to_string())
    .bind(g.tenant_id.to_string())
    .bind(&g.display_name)
    .bind(&g.mail_nickname)
    .bind(g.description.as_deref())
    .bind(millis(g.created_at))
    .execute(&db.pool)
    .await
    .map_err(|e| write_err(e, &format!("group {}", g.id), "tenant"))?;
    Ok(())
}

pub(super) async fn find_group(db: &SqlMetaStore, id: &ObjectId) -> Result<Option<Group>> {
    sqlx::query(
        "SELECT id, tenant_id, display_name, mail_nickname, description, created_at \
         FROM directory_groups WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(&db.pool)
    .await
    .map_err(backend_err)?
    .map(|r| group_row(&r))
    .transpose()
}

pub(super) async fn list_groups(db: &SqlMetaStore, tenant: &TenantId) -> Result<Vec<Group>> {
    let found = sqlx::query(
        "SELECT id, tenant_id, display_name, mail_nickname, description, created_at \
         FROM directory_groups WHERE tenant_id = $1 ORDER BY lower(display_name), id",
    )
    .bind(tenant.to_string())
    .fetch_all(&db.pool)
    .await
    .map_err(backend_err)?;
    rows(found, group_row)
}

pub(super) async fn delete_group(db: &SqlMetaStore, id: &ObjectId) -> Result<bool> {
    let mut tx = db.begin().await?;
    // Its own memberships in other groups; its member list goes with the
    // row (ON DELETE CASCADE).
    sqlx::query("DELETE FROM directory_group_members WHERE member_id = $1")
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
    sqlx::query("DELETE FROM directory_group_members WHERE group_id = $1")
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
    let done = sqlx::query("DELETE FROM directory_groups WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
    tx.commit().await.map_err(backend_err)?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn add_group_member(db: &SqlMetaStore, m: &GroupMember) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO directory_group_members (group_id, member_id, member_type, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (group_id, member_id) DO NOTHING",
    )
    .bind(m.group_id.to_string())
    .bind(m.member_id.to_string())
    .bind(m.member_type.as_str())
    .bind(millis(m.created_at))
    .execute(&db.pool)
    .await
    .map_err(|e| write_err(e, "group member", &format!("group {}", m.group_id)))?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn remove_group_member(
    db: &SqlMetaStore,
    group: &ObjectId,
    member: &ObjectId,
) -> Result<bool> {
    let done =
        sqlx::query("DELETE FROM directory_group_members WHERE group_id = $1 AND member_id = $2")
            .bind(group.to_string())
            .bind(member.to_string())
            .execute(&db.pool)
            .await
            .map_err(backend_err)?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn list_group_members(
    db: &SqlMetaStore,
    group: &ObjectId,
) -> Result<Vec<GroupMember>> {
    let found = sqlx::query(
        "SELECT group_id, member_id, member_type, created_at FROM directory_group_members \
         WHERE group_id = $1 ORDER BY created_at, member_id",
    )
    .bind(group.to_string())
    .fetch_all(&db.pool)
    .await
    .map_err(backend_err)?;
    rows(found, member_row)
}

pub(super) async fn list_groups_of(db: &SqlMetaStore, member: &ObjectId) -> Result<Vec<ObjectId>> {
    let found = sqlx::query(
        "SELECT group_id FROM directory_group_members WHERE member_id = $1 ORDER BY group_id",
    )
    .bind(member.to_string())
    .fetch_all(&db.pool)
    .await
    .map_err(backend_err)?;
    rows(found, |r| col_parse(r, "group_id", ObjectId::parse))
}

pub(super) async fn remove_from_all_groups(db: &SqlMetaStore, member: &ObjectId) -> Result<u64> {
    let done = sqlx::query("DELETE FROM directory_group_members WHERE member_id = $1")
        .bind(member.to_string())
        .execute(&db.pool)
        .await
        .map_err(backend_err)?;
    Ok(done.rows_affected())
}

// ---- signing keys ------------------------------------------------------------

pub(super) async fn delete_signing_key(db: &SqlMetaStore, kid: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM signing_keys WHERE kid = $1")
        .bind(kid)
        .execute(&db.pool)
        .await
        .map_err(backend_err)?;
    Ok(done.rows_affected() > 0)
}
