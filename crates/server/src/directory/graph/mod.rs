//! The directory's users, groups, applications and service principals,
//! Graph-shaped (Microsoft Graph v1.0 paths, JSON and errors), so az-like
//! tools and `acrylic ad …` fit.
//!
//! Routes:
//!
//! | method | path | operation |
//! |---|---|---|
//! | GET, POST | `/v1.0/users` | list (`$filter`), create (`passwordProfile`) |
//! | GET, PATCH, DELETE | `/v1.0/users/{id or UPN}` | show, update (`accountEnabled`, `displayName`, `passwordProfile`), delete |
//! | POST | `/v1.0/users/{id or UPN}/revokeSignInSessions` | sign the user out everywhere |
//! | GET, POST | `/v1.0/groups` | list (`$filter`), create |
//! | GET, DELETE | `/v1.0/groups/{id}` | show, delete |
//! | GET | `/v1.0/groups/{id}/members` | direct members |
//! | POST | `/v1.0/groups/{id}/members/$ref` | add (`{"@odata.id": ".../directoryObjects/<oid>"}`) |
//! | DELETE | `/v1.0/groups/{id}/members/{oid}/$ref` | remove |
//! | GET, POST | `/v1.0/applications` | list (`$filter`), create ([`applications`]) |
//! | GET, PATCH, DELETE | `/v1.0/applications/{id or appId}` | show, update, delete |
//! | POST | `/v1.0/applications/{id}/addPassword`, `removePassword`, `addKey`, `removeKey` | credentials |
//! | GET, POST | `/v1.0/applications/{id}/federatedIdentityCredentials` | list, create |
//! | GET, DELETE | `/v1.0/applications/{id}/federatedIdentityCredentials/{id or name}` | show, delete |
//! | GET, POST | `/v1.0/servicePrincipals` | list, create (`{"appId"}`: provision) ([`service_principals`]) |
//! | GET, PATCH, DELETE | `/v1.0/servicePrincipals/{id or appId}` | show, enable/disable, delete |
//!
//! Authentication: a directory access token ([`auth`]) for Graph
//! (`https://graph.microsoft.com`) or ARM. Authorization: every handler
//! names its [`Operation`] — whose Entra permission is decided by
//! `acrylic_authz::authorize` on `Resource::Directory`, i.e. by directory
//! role assignments at scope `/` — before it looks anything up, so a caller
//! without the permission learns nothing about what exists.

mod applications;
mod auth;
mod error;
mod groups;
mod service_principals;
mod users;

use acrylic_model::{ObjectId, TenantId};
use acrylic_store::{Group, ServicePrincipal, User};
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Serialize;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

pub use error::GraphError;

use crate::AppState;

/// Graph's service root, as `@odata.context` and `@odata.id` name it.
const SERVICE_ROOT: &str = "https://graph.microsoft.com/v1.0";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1.0/users", get(users::list).post(users::create))
        .route(
            "/v1.0/users/{id}",
            get(users::show).patch(users::update).delete(users::remove),
        )
        .route(
            "/v1.0/users/{id}/revokeSignInSessions",
            post(users::revoke_sessions),
        )
        .route("/v1.0/groups", get(groups::list).post(groups::create))
        .route(
            "/v1.0/groups/{id}",
            get(groups::show).delete(groups::remove),
        )
        .route("/v1.0/groups/{id}/members", get(groups::members))
        .route("/v1.0/groups/{id}/members/$ref", post(groups::add_member))
        .route(
            "/v1.0/groups/{id}/members/{member}/$ref",
            delete(groups::remove_member),
        )
        .route(
            "/v1.0/applications",
            get(applications::list).post(applications::create),
        )
        .route(
            "/v1.0/applications/{id}",
            get(applications::show)
                .patch(applications::update)
                .delete(applications::remove),
        )
        .route(
            "/v1.0/applications/{id}/addPassword",
            post(applications::add_password),
        )
        .route(
            "/v1.0/applications/{id}/removePassword",
            post(applications::remove_password),
        )
        .route(
            "/v1.0/applications/{id}/addKey",
            post(applications::add_key),
        )
        .route(
            "/v1.0/applications/{id}/removeKey",
            post(applications::remove_key),
        )
        .route(
            "/v1.0/applications/{id}/federatedIdentityCredentials",
            get(applications::list_federated).post(applications::create_federated),
        )
        .route(
            "/v1.0/applications/{id}/federatedIdentityCredentials/{fid}",
            get(applications::show_federated).delete(applications::remove_federated),
        )
        .route(
            "/v1.0/servicePrincipals",
            get(service_principals::list).post(service_principals::create),
        )
        .route(
            "/v1.0/servicePrincipals/{id}",
            get(service_principals::show)
                .patch(service_principals::update)
                .delete(service_principals::remove),
        )
}

/// Every directory operation, with the Entra permission it needs. Adding
/// one means naming its permission here (no catch-all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    ReadUsers,
    CreateUser,
    UpdateUserBasic,
    EnableUser,
    DisableUser,
    ResetPassword,
    DeleteUser,
    RevokeSessions,
    ReadGroups,
    CreateGroup,
    DeleteGroup,
    ReadMembers,
    UpdateMembers,
    ReadApplications,
    CreateApplication,
    UpdateApplication,
    UpdateApplicationCredentials,
    DeleteApplication,
    ReadServicePrincipals,
    CreateServicePrincipal,
    EnableServicePrincipal,
    DisableServicePrincipal,
    DeleteServicePrincipal,
}

impl Operation {
    /// Entra's permission name (`microsoft.directory/…`).
    pub fn action(self) -> &'static str {
        match self {
            Operation::ReadUsers => "microsoft.directory/users/standard/read",
            Operation::CreateUser => "microsoft.directory/users/create",
            Operation::UpdateUserBasic => "microsoft.directory/users/basic/update",
            Operation::EnableUser => "microsoft.directory/users/enable",
            Operation::DisableUser => "microsoft.directory/users/disable",
            Operation::ResetPassword => "microsoft.directory/users/password/update",
            Operation::DeleteUser => "microsoft.directory/users/delete",
            Operation::RevokeSessions => "microsoft.directory/users/invalidateAllRefreshTokens",
            Operation::ReadGroups => "microsoft.directory/groups/standard/read",
            Operation::CreateGroup => "microsoft.directory/groups/create",
            Operation::DeleteGroup => "microsoft.directory/groups/delete",
            Operation::ReadMembers => "microsoft.directory/groups/members/read",
            Operation::UpdateMembers => "microsoft.directory/groups/members/update",
            Operation::ReadApplications => "microsoft.directory/applications/standard/read",
            Operation::CreateApplication => "microsoft.directory/applications/create",
            Operation::UpdateApplication => "microsoft.directory/applications/basic/update",
            Operation::UpdateApplicationCredentials => {
                "microsoft.directory/applications/credentials/update"
            }
            Operation::DeleteApplication => "microsoft.directory/applications/delete",
            Operation::ReadServicePrincipals => {
                "microsoft.directory/servicePrincipals/standard/read"
            }
            Operation::CreateServicePrincipal => "microsoft.directory/servicePrincipals/create",
            Operation::EnableServicePrincipal => "microsoft.directory/servicePrincipals/enable",
            Operation::DisableServicePrincipal => "microsoft.directory/servicePrincipals/disable",
            Operation::DeleteServicePrincipal => "microsoft.directory/servicePrincipals/delete",
        }
    }
}

/// A JSON answer in Graph's content type.
fn reply<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut r = (status, bytes).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json;odata.metadata=minimal;charset=utf-8"),
            );
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// A request body as JSON, or Graph's 400.
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, GraphError> {
    serde_json::from_slice(body).map_err(|e| {
        GraphError::BadRequest(format!(
            "Unable to read JSON request payload. Please ensure Content-Type header is set and \
             payload is of valid JSON format. ({e})"
        ))
    })
}

fn date(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// A user as Graph shows one.
fn user_json(u: &User) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.user",
        "id": u.id.to_string(),
        "userPrincipalName": u.upn,
        "displayName": u.display_name,
        "accountEnabled": u.enabled,
        "mailNickname": u.upn.split('@').next().unwrap_or_default(),
        "mail": null,
        "givenName": null,
        "surname": null,
        "jobTitle": null,
        "businessPhones": [],
        "createdDateTime": date(u.created_at),
    })
}

/// A group as Graph shows one (security groups only).
fn group_json(g: &Group) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.group",
        "id": g.id.to_string(),
        "displayName": g.display_name,
        "mailNickname": g.mail_nickname,
        "description": g.description,
        "mailEnabled": false,
        "securityEnabled": true,
        "groupTypes": [],
        "createdDateTime": date(g.created_at),
    })
}

fn collection(entity_set: &str, items: Vec<Value>) -> Value {
    json!({
        "@odata.context": format!("{SERVICE_ROOT}/$metadata#{entity_set}"),
        "value": items,
    })
}

fn entity(entity_set: &str, mut item: Value) -> Value {
    if let Some(o) = item.as_object_mut() {
        o.insert(
            "@odata.context".into(),
            Value::from(format!("{SERVICE_ROOT}/$metadata#{entity_set}/$entity")),
        );
    }
    item
}

/// An object of a tenant that can be a group member.
pub(crate) enum DirectoryObject {
    User(User),
    Group(Group),
    ServicePrincipal(ServicePrincipal),
}

/// Finds a member candidate by object id within `tenant`.
async fn find_object(
    state: &AppState,
    tenant: &TenantId,
    id: &ObjectId,
) -> Result<Option<DirectoryObject>, GraphError> {
    if let Some(u) = state.meta.find_user(id).await?
        && u.tenant_id == *tenant
    {
        return Ok(Some(DirectoryObject::User(u)));
    }
    if let Some(g) = state.meta.find_group(id).await?
        && g.tenant_id == *tenant
    {
        return Ok(Some(DirectoryObject::Group(g)));
    }
    if let Some(sp) = state.meta.find_service_principal(id).await?
        && sp.tenant_id == *tenant
    {
        return Ok(Some(DirectoryObject::ServicePrincipal(sp)));
    }
    Ok(None)
}

/// The `$filter` forms acrylic evaluates: `<property> eq '<value>'` and
/// `startswith(<property>,'<value>')`, compared case-insensitively (as
/// Graph compares names).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Filter {
    /// Lower-cased property name.
    property: String,
    prefix: bool,
    value: String,
}

impl Filter {
    fn parse(raw: &str) -> Result<Filter, GraphError> {
        let unsupported = || {
            GraphError::UnsupportedQuery(format!(
                "Unsupported query: `$filter={raw}`. acrylic evaluates `<property> eq '<value>'` and \
                 `startswith(<property>,'<value>')`."
            ))
        };
        let s = raw.trim();
        let lower = s.to_ascii_lowercase();
        let (property, quoted, prefix) = if lower.starts_with("startswith(") && s.ends_with(')') {
            let inner = &s["startswith(".len()..s.len() - 1];
            let (p, v) = inner.split_once(',').ok_or_else(unsupported)?;
            (p.trim(), v.trim(), true)
        } else {
            let at = lower.find(" eq ").ok_or_else(unsupported)?;
            (s[..at].trim(), s[at + 4..].trim(), false)
        };
        let value = quoted
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .ok_or_else(unsupported)?
            .replace("''", "'");
        if property.is_empty() || !property.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(unsupported());
        }
        Ok(Filter {
            property: property.to_ascii_lowercase(),
            prefix,
            value,
        })
    }

    fn matches(&self, actual: &str) -> bool {
        let (a, v) = (actual.to_lowercase(), self.value.to_lowercase());
        if self.prefix {
            a.starts_with(&v)
        } else {
            a == v
        }
    }

    fn unknown_property(&self) -> GraphError {
        GraphError::UnsupportedQuery(format!(
            "Unsupported query: acrylic cannot filter on property '{}'.",
            self.property
        ))
    }
}

/// `$filter` from a raw query string, if present.
fn filter_of(query: Option<&str>) -> Result<Option<Filter>, GraphError> {
    let Some(q) = query else { return Ok(None) };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q)
        .map_err(|_| GraphError::BadRequest("The query string is malformed.".into()))?;
    pairs
        .into_iter()
        .find(|(k, _)| k == "$filter")
        .map(|(_, v)| Filter::parse(&v))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let f = Filter::parse("userPrincipalName eq 'Bob@Acrylic.Local'").ok();
        assert_eq!(
            f,
            Some(Filter {
                property: "userprincipalname".into(),
                prefix: false,
                value: "Bob@Acrylic.Local".into(),
            })
        );
        let f = Filter::parse("startswith(displayName,'O''Brien')").ok();
        assert_eq!(
            f.as_ref().map(|f| (f.prefix, f.value.as_str())),
            Some((true, "O'Brien"))
        );
        assert!(f.is_some_and(|f| f.matches("o'brien family") && !f.matches("x o'brien")));
        for bad in [
            "displayName ne 'x'",
            "displayName eq x",
            "startswith(displayName)",
            "a.b eq 'x'",
            "",
        ] {
            assert!(Filter::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_operation_is_a_directory_permission() {
        for op in [
            Operation::ReadUsers,
            Operation::CreateUser,
            Operation::UpdateUserBasic,
            Operation::EnableUser,
            Operation::DisableUser,
            Operation::ResetPassword,
            Operation::DeleteUser,
            Operation::RevokeSessions,
            Operation::ReadGroups,
            Operation::CreateGroup,
            Operation::DeleteGroup,
            Operation::ReadMembers,
            Operation::UpdateMembers,
            Operation::ReadApplications,
            Operation::CreateApplication,
            Operation::UpdateApplication,
            Operation::UpdateApplicationCredentials,
            Operation::DeleteApplication,
            Operation::ReadServicePrincipals,
            Operation::CreateServicePrincipal,
            Operation::EnableServicePrincipal,
            Operation::DisableServicePrincipal,
            Operation::DeleteServicePrincipal,
        ] {
            assert!(op.action().starts_with("microsoft.directory/"), "{op:?}");
            let readers =
                acrylic_authz::roles::find_builtin(&acrylic_authz::roles::DIRECTORY_READERS);
            let reads = op.action().ends_with("/read");
            assert_eq!(
                readers.is_some_and(|r| r.allows_action(op.action())),
                reads,
                "{op:?}"
            );
        }
    }
}
