//! The control plane: ARM-shaped REST for subscriptions, resource groups,
//! container registries and role-based access control — role assignments
//! and custom role definitions (acr-auth.md §6.7) — authorized through
//! `acrylic_authz::authorize` with control-plane operations.
//!
//! One handler serves `/subscriptions/**` and `/providers/**` (the tenant
//! root's `Microsoft.Authorization`). Each request goes the same way:
//! 1. parse path, method and query into an [`route::ArmRoute`] (the route
//!    table is documented in `route.rs`);
//! 2. authenticate the bearer directory token ([`auth::Caller`]);
//! 3. ask `authorize` for the route's [`route::Access`] at its scope, with
//!    the tenant that owns the scope: a `Permit` (or 403), or a
//!    [`Visible`] filter for listings;
//! 4. run the handler ([`registries`], [`subscriptions`],
//!    [`role_assignments`], [`role_definitions`], and for repository-scoped
//!    tokens [`scope_maps`] and [`tokens`]), which maps store and
//!    domain failures to ARM's `{"error": {"code", "message"}}`
//!    ([`error::ArmError`]). Changes are written to the audit log.
//!
//! No handler decides access: they receive a `Permit` or a `Visible`; the
//! role handlers also get the [`auth::Caller`], for its tenant and for the
//! further `authorize` questions a custom role's assignable scopes raise.

mod auth;
// Clusters and their kubelet identities (#5).
pub(crate) mod clusters;
mod error;
// User-assigned managed identities (#5).
pub(crate) mod identities;
mod registries;
// Compute resources carrying managed identities (#5).
pub(crate) mod resources;
mod role_assignments;
mod role_definitions;
pub mod route;
// Scope maps and repository-scoped tokens (#4); the token service and the
// gate use their credential check and current rules.
pub(crate) mod scope_maps;
mod shapes;
mod subscriptions;
pub(crate) mod tokens;

use std::net::SocketAddr;

use acrylic_authz::Permit;
use acrylic_model::{ArmScope, RegistryId, TenantId};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::Value;
use time::OffsetDateTime;

pub use error::ArmError;

use self::auth::Caller;
use self::route::{Access, ArmRoute};
use crate::AppState;

/// Request bodies of the control plane are small JSON documents.
const MAX_BODY_BYTES: usize = 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/subscriptions", any(dispatch))
        .route("/subscriptions/{*rest}", any(dispatch))
        // Role assignments and definitions at the tenant root, `/`.
        .route("/providers/{*rest}", any(dispatch))
}

/// What handlers need of the request besides the route.
pub(crate) struct Request {
    pub body: Bytes,
    pub client: Option<SocketAddr>,
}

/// Lets a listing keep only the items `authorize` allows the caller to see.
pub(crate) struct Visible<'a> {
    caller: &'a Caller,
    operation: &'static str,
}

impl Visible<'_> {
    /// May the caller see the item at `scope`, which belongs to `tenant`?
    pub fn may_see(&self, scope: &ArmScope, tenant: &TenantId) -> bool {
        self.caller.may(scope, tenant, self.operation)
    }
}

async fn dispatch(State(state): State<AppState>, req: axum::extract::Request) -> Response {
    match handle(&state, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn handle(state: &AppState, req: axum::extract::Request) -> Result<Response, ArmError> {
    let (parts, body) = req.into_parts();
    let query: Vec<(String, String)> = serde_urlencoded::from_str(parts.uri.query().unwrap_or(""))
        .map_err(|e| ArmError::InvalidRequestContent(format!("query string: {e}")))?;
    let route = ArmRoute::parse(&parts.method, parts.uri.path(), &query)?;
    let caller = Caller::authenticate(state, &parts.headers).await?;
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            ArmError::InvalidRequestContent(format!(
                "the body is unreadable or over {MAX_BODY_BYTES} bytes"
            ))
        })?;
    let req = Request {
        body,
        client: parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0),
    };

    let access = route.access();
    let (permit, visible) = match &access {
        Access::At { scope, operation } => {
            let tenant = caller.tenant_of(state, scope).await?;
            (Some(caller.permit(scope, &tenant, operation)?), None)
        }
        Access::EachItem { operation } => (
            None,
            Some(Visible {
                caller: &caller,
                operation,
            }),
        ),
    };
    // `access()` and this match are both exhaustive over the routes; a
    // route whose handler wants the other kind of access is a bug, caught
    // by the route-table tests.
    let need_permit = || {
        permit.clone().ok_or_else(|| {
            tracing::error!(
                ?route,
                "control plane: route needs a permit but has a listing access"
            );
            ArmError::Internal
        })
    };
    let need_visible = || {
        visible.as_ref().ok_or_else(|| {
            tracing::error!(
                ?route,
                "control plane: listing route without a listing access"
            );
            ArmError::Internal
        })
    };
    let ok = |v: Value| json(StatusCode::OK, &v);
    match &route {
        ArmRoute::ListSubscriptions => Ok(ok(subscriptions::list(state, need_visible()?).await?)),
        ArmRoute::GetSubscription(sub) => {
            Ok(ok(subscriptions::get(state, sub, need_permit()?).await?))
        }
        ArmRoute::GetResourceGroup {
            subscription,
            resource_group,
        } => Ok(ok(subscriptions::get_resource_group(
            state,
            subscription,
            resource_group,
            need_permit()?,
        )
        .await?)),
        ArmRoute::ListResources {
            subscription,
            filter,
        } => Ok(ok(registries::list_resources(
            state,
            need_visible()?,
            subscription,
            filter,
        )
        .await?)),
        ArmRoute::CheckNameAvailability(_) => Ok(ok(registries::check_name_availability(
            state,
            &req,
            need_permit()?,
        )
        .await?)),
        ArmRoute::ListRegistries {
            subscription,
            resource_group,
        } => Ok(ok(registries::list(
            state,
            need_visible()?,
            subscription,
            resource_group.as_ref(),
        )
        .await?)),
        ArmRoute::GetRegistry(p) => Ok(ok(registries::get(state, p, need_permit()?).await?)),
        ArmRoute::CreateRegistry(p) => {
            let (status, v) = registries::create(state, &req, p, need_permit()?).await?;
            Ok(json(status, &v))
        }
        ArmRoute::UpdateRegistry(p) => {
            Ok(ok(registries::update(state, &req, p, need_permit()?).await?))
        }
        ArmRoute::DeleteRegistry(p) => {
            let status = registries::delete(state, &req, p, need_permit()?).await?;
            Ok(status.into_response())
        }
        ArmRoute::ListCredentials(p) => Ok(ok(registries::list_credentials(
            state,
            &req,
            p,
            need_permit()?,
        )
        .await?)),
        ArmRoute::RegenerateCredential(p) => Ok(ok(registries::regenerate_credential(
            state,
            &req,
            p,
            need_permit()?,
        )
        .await?)),
        ArmRoute::ListAuditLogs(p, q) => {
            Ok(ok(
                registries::audit_logs(state, p, q, need_permit()?).await?
            ))
        }
        ArmRoute::ListRoleAssignments(scope, filter) => Ok(ok(role_assignments::list(
            state,
            &caller,
            scope,
            filter,
            need_permit()?,
        )
        .await?)),
        ArmRoute::GetRoleAssignment(scope, name) => Ok(ok(role_assignments::get(
            state,
            &caller,
            scope,
            name,
            need_permit()?,
        )
        .await?)),
        ArmRoute::CreateRoleAssignment(scope, name) => {
            let (status, v) =
                role_assignments::create(state, &req, &caller, scope, name, need_permit()?).await?;
            Ok(json(status, &v))
        }
        ArmRoute::DeleteRoleAssignment(scope, name) => {
            let answer =
                role_assignments::delete(state, &req, &caller, scope, name, need_permit()?).await?;
            Ok(maybe_json(answer))
        }
        ArmRoute::ListRoleDefinitions(scope, filter) => Ok(ok(role_definitions::list(
            state,
            &caller,
            scope,
            filter,
            need_permit()?,
        )
        .await?)),
        ArmRoute::GetRoleDefinition(scope, id) => Ok(ok(role_definitions::get(
            state,
            &caller,
            scope,
            id,
            need_permit()?,
        )
        .await?)),
        ArmRoute::PutRoleDefinition(scope, id) => {
            let (status, v) =
                role_definitions::put(state, &req, &caller, scope, id, need_permit()?).await?;
            Ok(json(status, &v))
        }
        ArmRoute::DeleteRoleDefinition(scope, id) => {
            let answer =
                role_definitions::delete(state, &req, &caller, scope, id, need_permit()?).await?;
            Ok(maybe_json(answer))
        }
        ArmRoute::ListScopeMaps(p) => Ok(ok(scope_maps::list(state, p, need_permit()?).await?)),
        ArmRoute::GetScopeMap(p, name) => {
            Ok(ok(scope_maps::get(state, p, name, need_permit()?).await?))
        }
        ArmRoute::PutScopeMap(p, name) => {
            let (status, v) = scope_maps::put(state, &req, p, name, need_permit()?).await?;
            Ok(json(status, &v))
        }
        ArmRoute::PatchScopeMap(p, name) => {
            Ok(ok(
                scope_maps::patch(state, &req, p, name, need_permit()?).await?
            ))
        }
        ArmRoute::DeleteScopeMap(p, name) => {
            Ok(scope_maps::delete(state, &req, p, name, need_permit()?)
                .await?
                .into_response())
        }
        ArmRoute::ListTokens(p) => Ok(ok(tokens::list(state, p, need_permit()?).await?)),
        ArmRoute::GetToken(p, name) => Ok(ok(tokens::get(state, p, name, need_permit()?).await?)),
        ArmRoute::PutToken(p, name) => {
            let (status, v) = tokens::put(state, &req, p, name, need_permit()?).await?;
            Ok(json(status, &v))
        }
        ArmRoute::PatchToken(p, name) => {
            Ok(ok(
                tokens::patch(state, &req, p, name, need_permit()?).await?
            ))
        }
        ArmRoute::DeleteToken(p, name) => Ok(tokens::delete(state, &req, p, name, need_permit()?)
            .await?
            .into_response()),
        ArmRoute::GenerateCredentials(p) => Ok(ok(tokens::generate_credentials(
            state,
            &req,
            p,
            need_permit()?,
        )
        .await?)),
        // -- resources, managed identities, clusters (#5) --
        ArmRoute::ListComputeResources {
            subscription,
            resource_group,
            rtype,
        } => Ok(ok(resources::list(
            state,
            need_visible()?,
            subscription,
            resource_group,
            *rtype,
        )
        .await?)),
        ArmRoute::GetComputeResource(p) => Ok(ok(resources::get(state, p, need_permit()?).await?)),
        ArmRoute::PutComputeResource(p) => {
            let (status, v) = resources::put(state, &req, &caller, p, need_permit()?).await?;
            Ok(json(status, &v))
        }
        ArmRoute::PatchComputeResource(p) => Ok(ok(resources::patch(
            state,
            &req,
            &caller,
            p,
            need_permit()?,
        )
        .await?)),
        ArmRoute::DeleteComputeResource(p) => Ok(resources::delete(state, &req, p, need_permit()?)
            .await?
            .into_response()),
        ArmRoute::IssueAgentCredential(p) => Ok(ok(resources::issue_agent_credential(
            state,
            &req,
            p,
            need_permit()?,
        )
        .await?)),
        ArmRoute::ListUserAssignedIdentities {
            subscription,
            resource_group,
        } => Ok(ok(identities::list(
            state,
            need_visible()?,
            subscription,
            resource_group.as_ref(),
        )
        .await?)),
        ArmRoute::GetUserAssignedIdentity(p) => {
            Ok(ok(identities::get(state, p, need_permit()?).await?))
        }
        ArmRoute::PutUserAssignedIdentity(p) => {
            let (status, v) = identities::put(state, &req, p, need_permit()?).await?;
            Ok(json(status, &v))
        }
        ArmRoute::DeleteUserAssignedIdentity(p) => {
            Ok(identities::delete(state, &req, p, need_permit()?)
                .await?
                .into_response())
        }
        ArmRoute::ListClusters {
            subscription,
            resource_group,
        } => Ok(ok(clusters::list(
            state,
            need_visible()?,
            subscription,
            resource_group,
        )
        .await?)),
        ArmRoute::GetCluster(p) => Ok(ok(clusters::get(state, p, need_permit()?).await?)),
        ArmRoute::PutCluster(p) => {
            let (status, v) = clusters::put(state, &req, p, need_permit()?).await?;
            Ok(json(status, &v))
        }
        ArmRoute::DeleteCluster(p) => Ok(clusters::delete(state, &req, p, need_permit()?)
            .await?
            .into_response()),
        ArmRoute::ClusterAcr(p, attach) => Ok(ok(clusters::acr(
            state,
            &req,
            &caller,
            p,
            *attach,
            need_permit()?,
        )
        .await?)),
        ArmRoute::ClusterNodeConfig(p) => {
            Ok(ok(
                clusters::node_config(state, &req, p, need_permit()?).await?
            ))
        }
    }
}

/// Now, to the millisecond: what the store keeps, so a resource's answer
/// to PUT equals its answer to GET.
pub(crate) fn now_millis() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(now)
}

/// A DELETE's answer: the deleted resource (200) or nothing (204).
fn maybe_json((status, body): (StatusCode, Option<Value>)) -> Response {
    match body {
        Some(v) => json(status, &v),
        None => status.into_response(),
    }
}

/// Records a control-plane change in the audit log (with the registry it
/// concerns, if any); a failure to record is logged, never fatal.
pub(crate) async fn audit_change(
    state: &AppState,
    req: &Request,
    permit: &Permit,
    registry: Option<RegistryId>,
    action: &str,
    detail: String,
) {
    tracing::info!(principal = permit.principal(), operation = %permit.action(), action, %detail, "control plane");
    crate::audit::Event::new(permit.principal(), action, "granted")
        .registry(registry)
        .client(req.client)
        .detail(Some(detail))
        .record_best_effort(state)
        .await;
}

fn json(status: StatusCode, v: &Value) -> Response {
    let mut r = (status, axum::Json(v)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}
