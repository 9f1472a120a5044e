//! Who is calling the Graph surface, and whether `authorize` lets them.
//!
//! Authentication: `Authorization: Bearer <directory access token>`,
//! verified with the key ring (the tenant's pinned RS256 key, `exp`/`nbf`;
//! an unknown `kid` reloads the stored keys once), then `iss` (the tenant's
//! v1 issuer) and `aud` (Graph, or ARM — the CLI's stored token).
//!
//! Authorization: [`Caller::require`] is the only way a handler proceeds;
//! it asks `acrylic_authz::authorize` on `Resource::Directory` of the
//! caller's tenant with the caller's current grants, audits denials and
//! refuses with the permission's name.

use acrylic_authz::{Action, Grants, Principal, Resource, authorize};
use acrylic_model::TenantId;
use acrylic_store::AuditRecord;
use acrylic_tokens::{DirectoryClaims, TokenError};
use axum::http::{HeaderMap, header};

use super::{GraphError, Operation};
use crate::AppState;
use crate::directory::{Resource as Audience, keys, v1_issuer};

/// An authenticated caller with the grants `authorize` decides on.
pub struct Caller {
    pub principal: Principal,
    /// The caller's tenant: the only directory it can see.
    pub tenant: TenantId,
    grants: Grants,
}

impl Caller {
    pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller, GraphError> {
        let value = headers
            .get(header::AUTHORIZATION)
            .ok_or(GraphError::MissingToken)?
            .to_str()
            .map_err(|_| GraphError::InvalidToken)?;
        let token = match value.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
                t.trim()
            }
            _ => return Err(GraphError::MissingToken),
        };
        let claims = verify(state, token).await?;
        let tenant = claims.tid;
        let principal = principal_of(claims)?;
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
            caller: self.display_name(),
            action: op.action(),
            tenant: self.tenant.to_string(),
        })
    }

    /// Records a directory change (or a denial) in the audit log.
    pub async fn audit(&self, state: &AppState, op: Operation, decision: &str, detail: &str) {
        let record = AuditRecord {
            id: uuid::Uuid::now_v7(),
            at: state.clock.now(),
            registry_id: None,
            principal: self.principal.label(),
            action: op.action().to_owned(),
            repository: None,
            decision: decision.into(),
            client_addr: None,
            detail: Some(detail.into()),
        };
        if let Err(e) = state.meta.append_audit(&record).await {
            tracing::warn!(error = %e, "could not record a directory change in the audit log");
        }
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

async fn verify(state: &AppState, token: &str) -> Result<DirectoryClaims, GraphError> {
    let now = state.clock.unix_now();
    let refused = |e: TokenError| {
        tracing::info!(error = %e, "graph: token refused");
        GraphError::InvalidToken
    };
    let claims = match state.keys.verify_directory(token, now) {
        Err(TokenError::UnknownKey { .. }) => {
            // Perhaps a key another replica (or a rotation) made.
            keys::load(state).await.map_err(|e| {
                tracing::error!(error = %e, "graph: reloading directory keys failed");
                GraphError::Internal
            })?;
            state.keys.verify_directory(token, now).map_err(refused)?
        }
        other => other.map_err(refused)?,
    };
    if claims.iss != v1_issuer(&claims.tid) {
        return Err(GraphError::InvalidToken);
    }
    match Audience::from_uri(&claims.aud) {
        Some(Audience::Graph | Audience::Arm) => Ok(claims),
        Some(Audience::ContainerRegistry) | None => Err(GraphError::WrongAudience(claims.aud)),
    }
}

/// `idtyp` `user` is a user; `app` a service principal (issue #4).
fn principal_of(c: DirectoryClaims) -> Result<Principal, GraphError> {
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
                .ok_or(GraphError::InvalidToken)?;
            Ok(Principal::ServicePrincipal {
                tenant: c.tid,
                oid: c.oid,
                app_id,
            })
        }
        _ => Err(GraphError::InvalidToken),
    }
}
