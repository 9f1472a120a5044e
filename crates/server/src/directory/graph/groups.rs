//! `/v1.0/groups…`: security groups and their direct members (users,
//! groups and service principals). Role assignments to
//! a group apply to its members (transitively); that is resolved where
//! grants are loaded, from `MetaStore::list_groups_of`.

use acrylic_model::ObjectId;
use acrylic_store::{Group, GroupMember, PrincipalType};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::{
    DirectoryObject, GraphError, Operation, collection, entity, filter_of, find_object, group_json,
    no_content, parse_body, reply, user_json,
};
use crate::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewGroup {
    display_name: Option<String>,
    mail_nickname: Option<String>,
    description: Option<String>,
    mail_enabled: Option<bool>,
    security_enabled: Option<bool>,
}

#[derive(Deserialize)]
struct MemberRef {
    #[serde(rename = "@odata.id")]
    odata_id: Option<String>,
}

/// `GET /v1.0/groups[?$filter=…]`.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller.require(&state, Operation::ReadGroups).await?;
    let filter = filter_of(query.as_deref())?;
    let mut out = Vec::new();
    for g in state.meta.list_groups(&caller.tenant).await? {
        if let Some(f) = &filter {
            let value = match f.property.as_str() {
                "displayname" => g.display_name.clone(),
                "mailnickname" => g.mail_nickname.clone(),
                "id" => g.id.to_string(),
                _ => return Err(f.unknown_property()),
            };
            if !f.matches(&value) {
                continue;
            }
        }
        out.push(group_json(&g));
    }
    Ok(reply(StatusCode::OK, &collection("groups", out)))
}

/// `POST /v1.0/groups`: a security group (`mailEnabled: false`).
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller.require(&state, Operation::CreateGroup).await?;
    let new: NewGroup = parse_body(&body)?;
    let display_name = new
        .display_name
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| {
            GraphError::BadRequest(
                "Property 'displayName' is required when creating a group.".into(),
            )
        })?;
    let mail_nickname = new
        .mail_nickname
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| {
            GraphError::BadRequest(
                "Property 'mailNickname' is required when creating a group.".into(),
            )
        })?;
    if new.mail_enabled == Some(true) || new.security_enabled == Some(false) {
        return Err(GraphError::BadRequest(
            "acrylic supports security groups only: mailEnabled must be false and securityEnabled true."
                .into(),
        ));
    }
    let group = Group {
        id: ObjectId::new_random(),
        tenant_id: caller.tenant,
        display_name,
        mail_nickname,
        description: new.description.filter(|d| !d.is_empty()),
        created_at: state.clock.now(),
    };
    state.meta.create_group(&group).await?;
    caller
        .audit(
            &state,
            Operation::CreateGroup,
            "granted",
            &format!("created group {} ({})", group.display_name, group.id),
        )
        .await;
    Ok(reply(
        StatusCode::CREATED,
        &entity("groups", group_json(&group)),
    ))
}

/// `GET /v1.0/groups/{id}`.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller.require(&state, Operation::ReadGroups).await?;
    let group = find(&state, &caller, &id).await?;
    Ok(reply(StatusCode::OK, &entity("groups", group_json(&group))))
}

/// `DELETE /v1.0/groups/{id}`.
pub async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller.require(&state, Operation::DeleteGroup).await?;
    let group = find(&state, &caller, &id).await?;
    state.meta.delete_group(&group.id).await?;
    caller
        .audit(
            &state,
            Operation::DeleteGroup,
            "granted",
            &format!("deleted group {} ({})", group.display_name, group.id),
        )
        .await;
    Ok(no_content())
}

/// `GET /v1.0/groups/{id}/members`: direct members as directory objects.
pub async fn members(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller.require(&state, Operation::ReadMembers).await?;
    let group = find(&state, &caller, &id).await?;
    let mut out: Vec<Value> = Vec::new();
    for m in state.meta.list_group_members(&group.id).await? {
        let shown = match find_object(&state, &caller.tenant, &m.member_id).await? {
            Some(DirectoryObject::User(u)) => user_json(&u),
            Some(DirectoryObject::Group(g)) => group_json(&g),
            Some(DirectoryObject::ServicePrincipal(sp)) => {
                super::service_principals::service_principal_json(&sp, None, None, &[])
            }
            // An object deleted concurrently.
            None => json!({
                "@odata.type": match m.member_type {
                    PrincipalType::User => "#microsoft.graph.user",
                    PrincipalType::Group => "#microsoft.graph.group",
                    PrincipalType::ServicePrincipal => "#microsoft.graph.servicePrincipal",
                },
                "id": m.member_id.to_string(),
            }),
        };
        out.push(shown);
    }
    Ok(reply(StatusCode::OK, &collection("directoryObjects", out)))
}

/// `POST /v1.0/groups/{id}/members/$ref` with `{"@odata.id":
/// "https://graph.microsoft.com/v1.0/directoryObjects/<oid>"}`.
pub async fn add_member(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller.require(&state, Operation::UpdateMembers).await?;
    let group = find(&state, &caller, &id).await?;
    let reference: MemberRef = parse_body(&body)?;
    let odata_id = reference.odata_id.ok_or_else(|| {
        GraphError::BadRequest(
            "The request body must name the member as {\"@odata.id\": \".../directoryObjects/<id>\"}."
                .into(),
        )
    })?;
    // The last path segment is the object id, whatever the collection
    // (`directoryObjects`, `users`, `groups`, `servicePrincipals`).
    let last = odata_id
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let member_id = ObjectId::parse(last).map_err(|_| {
        GraphError::BadRequest(format!("Invalid object identifier '{last}' in @odata.id."))
    })?;
    if member_id == group.id {
        return Err(GraphError::BadRequest(
            "A group cannot be a member of itself.".into(),
        ));
    }
    let (member_type, name) = match find_object(&state, &caller.tenant, &member_id).await? {
        Some(DirectoryObject::User(u)) => (PrincipalType::User, u.upn),
        Some(DirectoryObject::Group(g)) => (PrincipalType::Group, g.display_name),
        Some(DirectoryObject::ServicePrincipal(sp)) => {
            (PrincipalType::ServicePrincipal, sp.display_name)
        }
        None => return Err(GraphError::NotFound(member_id.to_string())),
    };
    let added = state
        .meta
        .add_group_member(&GroupMember {
            group_id: group.id,
            member_id,
            member_type,
            created_at: state.clock.now(),
        })
        .await?;
    if !added {
        return Err(GraphError::AlreadyMember);
    }
    caller
        .audit(
            &state,
            Operation::UpdateMembers,
            "granted",
            &format!("added {name} ({member_id}) to group {}", group.display_name),
        )
        .await;
    Ok(no_content())
}

/// `DELETE /v1.0/groups/{id}/members/{oid}/$ref`.
pub async fn remove_member(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, member)): Path<(String, String)>,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller.require(&state, Operation::UpdateMembers).await?;
    let group = find(&state, &caller, &id).await?;
    let member_id = ObjectId::parse(&member).map_err(|_| GraphError::NotFound(member.clone()))?;
    if !state
        .meta
        .remove_group_member(&group.id, &member_id)
        .await?
    {
        return Err(GraphError::NotFound(member));
    }
    caller
        .audit(
            &state,
            Operation::UpdateMembers,
            "granted",
            &format!("removed {member_id} from group {}", group.display_name),
        )
        .await;
    Ok(no_content())
}

/// A group of the caller's tenant, or 404.
async fn find(state: &AppState, caller: &Caller, id: &str) -> Result<Group, GraphError> {
    let found = match ObjectId::parse(id) {
        Ok(oid) => state.meta.find_group(&oid).await?,
        Err(_) => None,
    };
    found
        .filter(|g| g.tenant_id == caller.tenant)
        .ok_or_else(|| GraphError::NotFound(id.to_owned()))
}
