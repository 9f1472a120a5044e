//! Who is calling the control plane, and what `authorize` says they may do.
//!
//! Authentication: `Authorization: Bearer <directory access token>`,
//! verified with the key ring (signature with the tenant's pinned RS256
//! key, `exp`/`nbf`), then `iss` (the tenant's v1 issuer) and `aud` (an ARM
//! audience, acr-auth.md cheat sheet 6). A `kid` this replica does not hold
//! yet makes it reload the stored directory keys once.
//!
//! Authorization: [`Caller::permit`] and [`Caller::may`] are the only ways
//! a handler learns what it may do; both ask `acrylic_authz::authorize`
//! with the principal's current role assignments (`token::grants_for`) and
//! the tenant that owns the scope ([`Caller::tenant_of`]), so a role held
//! in one tenant never reaches another tenant's subscriptions.

use acrylic_authz::{Action, Grants, Permit, Principal, Resource, authorize};
use acrylic_model::{ArmScope, SubscriptionId, TenantId};
use acrylic_tokens::{DirectoryClaims, TokenError};
use axum::http::{HeaderMap, header};

use super::error::ArmError;
use crate::AppState;
use crate::directory::{is_arm_audience, keys, v1_issuer};

/// An authenticated caller with the grants `authorize` decides on.
pub struct Caller {
    pub principal: Principal,
    grants: Grants,
}

impl Caller {
    pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller, ArmError> {
        let value = headers
            .get(header::AUTHORIZATION)
            .ok_or(ArmError::MissingAuthorization)?
            .to_str()
            .map_err(|_| ArmError::MalformedAuthorization)?;
        let token = match value.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
                t.trim()
            }
            _ => return Err(ArmError::MalformedAuthorization),
        };
        let claims = verify(state, token).await?;
        let principal = principal_of(claims)?;
        let grants = crate::token::grants_for(state, &principal, None).await?;
        Ok(Caller { principal, grants })
    }

    /// The caller's directory tenant.
    pub fn tenant(&self) -> Option<TenantId> {
        self.principal.tenant()
    }

    /// A permit for `operation` at `scope`, which belongs to `tenant`, or
    /// 403 AuthorizationFailed naming both.
    pub fn permit(
        &self,
        scope: &ArmScope,
        tenant: &TenantId,
        operation: &str,
    ) -> Result<Permit, ArmError> {
        let action = Action::Arm(operation.to_owned());
        let decision = authorize(
            &self.principal,
            Resource::Arm { scope, tenant },
            std::slice::from_ref(&action),
            &self.grants,
        );
        decision.permit(&action).ok_or_else(|| {
            tracing::info!(principal = %self.principal.label(), %scope, operation, reason = %decision.reason, "control plane: denied");
            ArmError::AuthorizationFailed {
                caller: self.display_name(),
                oid: self.principal.object_id().map(|o| o.to_string()).unwrap_or_default(),
                action: operation.to_owned(),
                scope: scope.clone(),
            }
        })
    }

    /// Whether `operation` at `scope` (of `tenant`) would be permitted
    /// (list filtering).
    pub fn may(&self, scope: &ArmScope, tenant: &TenantId, operation: &str) -> bool {
        self.permit(scope, tenant, operation).is_ok()
    }

    /// The tenant that owns `scope`: its subscription's. For `/`, or a
    /// subscription that does not exist, the caller's own — so an unknown
    /// subscription is decided by role assignments alone and its absence
    /// is reported (404) only to callers allowed to act there.
    pub async fn tenant_of(
        &self,
        state: &AppState,
        scope: &ArmScope,
    ) -> Result<TenantId, ArmError> {
        let own = self.tenant().ok_or(ArmError::InvalidToken)?;
        let Some(sub) = subscription_of(scope) else {
            return Ok(own);
        };
        Ok(state
            .meta
            .find_subscription(&sub)
            .await?
            .map_or(own, |s| s.tenant_id))
    }

    fn display_name(&self) -> String {
        match &self.principal {
            Principal::User { upn, .. } => upn.clone(),
            Principal::ServicePrincipal { app_id, .. } => app_id.to_string(),
            Principal::ManagedIdentity { client_id, .. } => client_id.to_string(),
            p @ (Principal::Anonymous
            | Principal::Admin { .. }
            | Principal::RepositoryToken { .. }) => p.label(),
        }
    }
}

/// The subscription a scope lies in, if any.
pub fn subscription_of(scope: &ArmScope) -> Option<SubscriptionId> {
    let mut parts = scope.as_str().split('/').filter(|p| !p.is_empty());
    match (parts.next(), parts.next()) {
        (Some(kind), Some(id)) if kind.eq_ignore_ascii_case("subscriptions") => {
            SubscriptionId::parse(id).ok()
        }
        _ => None,
    }
}

async fn verify(state: &AppState, token: &str) -> Result<DirectoryClaims, ArmError> {
    let now = state.clock.unix_now();
    let claims = match state.keys.verify_directory(token, now) {
        Err(TokenError::UnknownKey { .. }) => {
            // Perhaps a key another replica (or a later tenant) made.
            keys::load(state).await.map_err(|e| {
                tracing::error!(error = %e, "control plane: reloading directory keys failed");
                ArmError::Internal
            })?;
            state.keys.verify_directory(token, now)?
        }
        other => other?,
    };
    if claims.iss != v1_issuer(&claims.tid) {
        return Err(ArmError::InvalidToken);
    }
    if !is_arm_audience(&claims.aud) {
        return Err(ArmError::WrongAudience { aud: claims.aud });
    }
    Ok(claims)
}

/// The principal a directory token stands for: `idtyp` `user` is a user;
/// `app` a service principal (issue #4 issues those).
fn principal_of(c: DirectoryClaims) -> Result<Principal, ArmError> {
    match c.idtyp.as_str() {
        "user" => Ok(Principal::User {
            tenant: c.tid,
            oid: c.oid,
            upn: c.upn.unwrap_or(c.sub),
        }),
        "app" => {
            let app_id = c
                .appid
                .as_deref()
                .and_then(|a| uuid::Uuid::parse_str(a).ok())
                .ok_or(ArmError::InvalidToken)?;
            Ok(Principal::ServicePrincipal {
                tenant: c.tid,
                oid: c.oid,
                app_id,
            })
        }
        _ => Err(ArmError::InvalidToken),
    }
}
