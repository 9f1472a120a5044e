//! Who is calling the control plane, and what `authorize` says they may do.
//!
//! Authentication: `Authorization: Bearer <directory access token>`,
//! verified by `crate::directory::bearer`, with an ARM audience
//! (acr-auth.md cheat sheet 6).
//!
//! Authorization: [`Caller::permit`] and [`Caller::may`] are the only ways
//! a handler learns what it may do; both ask `acrylic_authz::authorize`
//! with the principal's current role assignments (`token::grants_for`) and
//! the tenant that owns the scope ([`Caller::tenant_of`]), so a role held
//! in one tenant never reaches another tenant's subscriptions.

use acrylic_authz::{Action, Grants, Permit, Principal, Resource, authorize};
use acrylic_model::{ArmScope, SubscriptionId, TenantId};
use axum::http::HeaderMap;

use super::error::ArmError;
use crate::AppState;
use crate::directory::bearer::{self, BearerError};
use crate::directory::is_arm_audience;

/// An authenticated caller with the grants `authorize` decides on.
pub struct Caller {
    pub principal: Principal,
    grants: Grants,
}

impl Caller {
    pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller, ArmError> {
        let claims = bearer::verify(state, bearer::token(headers)?, state.clock.unix_now()).await?;
        if !is_arm_audience(&claims.aud) {
            return Err(ArmError::WrongAudience { aud: claims.aud });
        }
        let principal = bearer::principal_of(claims)?;
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
                caller: bearer::display_name(&self.principal),
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

impl From<BearerError> for ArmError {
    fn from(e: BearerError) -> Self {
        match e {
            BearerError::Missing => ArmError::MissingAuthorization,
            BearerError::Malformed => ArmError::MalformedAuthorization,
            BearerError::Token(t) => t.into(),
            BearerError::WrongIssuer(_) | BearerError::InvalidClaims => ArmError::InvalidToken,
            BearerError::Internal => ArmError::Internal,
        }
    }
}
