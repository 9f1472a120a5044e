//! Who is calling the Graph surface, and whether `authorize` lets them.
//!
//! Authentication: `Authorization: Bearer <directory access token>`,
//! verified by `crate::directory::bearer`, with audience Graph or ARM (the
//! CLI's stored token).
//!
//! Authorization: [`Caller::require`] is the only way a handler proceeds;
//! it asks `acrylic_authz::authorize` on `Resource::Directory` of the
//! caller's tenant with the caller's current grants, audits denials and
//! refuses with the permission's name.

use acrylic_authz::{Action, Grants, Principal, Resource, authorize};
use acrylic_model::TenantId;
use axum::http::HeaderMap;

use super::{GraphError, Operation};
use crate::AppState;
use crate::directory::Resource as Audience;
use crate::directory::bearer::{self, BearerError};

/// An authenticated caller with the grants `authorize` decides on.
pub struct Caller {
    pub principal: Principal,
    /// The caller's tenant: the only directory it can see.
    pub tenant: TenantId,
    grants: Grants,
}

impl Caller {
    pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller, GraphError> {
        let claims = bearer::verify(state, bearer::token(headers)?, state.clock.unix_now()).await?;
        match Audience::from_uri(&claims.aud) {
            Some(Audience::Graph | Audience::Arm) => {}
            Some(Audience::ContainerRegistry) | None => {
                return Err(GraphError::WrongAudience(claims.aud));
            }
        }
        let tenant = claims.tid;
        let principal = bearer::principal_of(claims)?;
        let grants = crate::token::grants_for(state, &principal, None).await?;
        Ok(Caller {
            principal,
            tenant,
            grants,
        })
    }

    /// Allowed to perform `op` in the caller's directory, or 403 naming
    /// the missing permission (audited).
    pub async fn require(&self, state: &AppState, op: Operation) -> Result<(), GraphError> {
        let action = Action::Directory(op.action().to_owned());
        let decision = authorize(
            &self.principal,
            Resource::Directory {
                tenant: &self.tenant,
            },
            std::slice::from_ref(&action),
            &self.grants,
        );
        if decision.allows(&action) {
            return Ok(());
        }
        tracing::info!(principal = %self.principal.label(), action = op.action(), reason = %decision.reason, "directory: denied");
        self.audit(
            state,
            op,
            "denied",
            &format!("missing {}: {}", op.action(), decision.reason),
        )
        .await;
        Err(GraphError::Forbidden {
            caller: bearer::display_name(&self.principal),
            action: op.action(),
            tenant: self.tenant.to_string(),
        })
    }

    /// Records a directory change (or a denial) in the audit log.
    pub async fn audit(&self, state: &AppState, op: Operation, decision: &str, detail: &str) {
        crate::audit::Event::new(self.principal.label(), op.action(), decision)
            .detail(Some(detail.into()))
            .record_best_effort(state)
            .await;
    }
}

impl From<BearerError> for GraphError {
    fn from(e: BearerError) -> Self {
        match e {
            BearerError::Missing | BearerError::Malformed => GraphError::MissingToken,
            BearerError::Token(t) => {
                tracing::info!(error = %t, "graph: token refused");
                GraphError::InvalidToken
            }
            BearerError::WrongIssuer(_) | BearerError::InvalidClaims => GraphError::InvalidToken,
            BearerError::Internal => GraphError::Internal,
        }
    }
}
