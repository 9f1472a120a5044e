//! ARM's wire errors: `{"error": {"code", "message"}}` with ARM's codes and
//! statuses, from one table ([`ArmError::entry`], an exhaustive `match`).
//! Messages follow ARM's and ACR's texts where users search for them
//! (acr-auth.md §8 "Error strings clients surface").

use acrylic_model::{ArmScope, ResourceGroupName, SubscriptionId};
use acrylic_store::StoreError;
use acrylic_tokens::TokenError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why the control plane refused a request.
#[derive(Debug)]
pub enum ArmError {
    /// No `Authorization` header.
    MissingAuthorization,
    /// An `Authorization` header that is not `Bearer <token>`.
    MalformedAuthorization,
    /// A bearer token that fails verification (signature, shape, key).
    InvalidToken,
    /// A valid token past its `exp`.
    ExpiredToken {
        exp: i64,
    },
    /// A valid token for another resource (not ARM).
    WrongAudience {
        aud: String,
    },
    /// `authorize` refused `action` at `scope`.
    AuthorizationFailed {
        caller: String,
        oid: String,
        action: String,
        scope: ArmScope,
    },
    SubscriptionNotFound(SubscriptionId),
    ResourceGroupNotFound(ResourceGroupName),
    RegistryNotFound {
        name: String,
        resource_group: ResourceGroupName,
    },
    /// The name is taken by another registry (names are global, as login
    /// servers are).
    RegistryNameNotAvailable {
        name: String,
    },
    /// A path segment that is not a valid name or id.
    InvalidSubscriptionId(String),
    InvalidResourceName {
        kind: &'static str,
        name: String,
        reason: String,
    },
    /// The body (or a query parameter) is not what the operation takes.
    InvalidRequestContent(String),
    /// `listCredentials`/`regenerateCredential` with the admin user off
    /// (acr-auth.md §6.5).
    AdminUserDisabled {
        id: ArmScope,
    },
    /// A role scope that is not `/`, a subscription, a resource group or
    /// a registry.
    InvalidScope(String),
    RoleAssignmentNotFound {
        name: uuid::Uuid,
    },
    /// A PUT of an assignment name that exists with other properties.
    RoleAssignmentUpdateNotPermitted,
    /// The same principal, role, scope and condition are assigned already.
    RoleAssignmentExists,
    /// `roleDefinitionId` is not a role definition id.
    InvalidRoleDefinitionId(String),
    /// The role an assignment names does not exist (for this tenant).
    RoleDefinitionDoesNotExist {
        id: String,
    },
    /// GET/PUT of a role definition that does not exist.
    RoleDefinitionNotFound {
        id: uuid::Uuid,
    },
    /// The role may not be assigned at the requested scope
    /// (`assignableScopes`).
    RoleNotAssignableAtScope {
        role: String,
        scope: ArmScope,
    },
    PrincipalNotFound {
        id: String,
        tenant: String,
    },
    UnmatchedPrincipalType {
        id: String,
        actual: &'static str,
        given: String,
    },
    /// A condition that does not parse, or is not allowed here.
    InvalidCondition(String),
    /// A custom role body that breaks the rules (names the rule).
    InvalidRoleDefinition(String),
    RoleDefinitionWithSameNameExists {
        name: String,
    },
    RoleDefinitionHasAssignments {
        id: uuid::Uuid,
    },
    // -- scope maps and repository tokens (#4) --
    /// A token or scope map of a registry that does not exist.
    ChildResourceNotFound {
        /// `tokens` or `scopeMaps`.
        kind: &'static str,
        name: String,
        registry: String,
        resource_group: ResourceGroupName,
    },
    /// A system scope map cannot be created, changed or deleted
    /// (acr-auth.md §6.4).
    SystemScopeMapReadOnly {
        name: String,
    },
    /// A scope map that tokens still use cannot be deleted.
    ScopeMapInUse {
        name: String,
        tokens: Vec<String>,
    },
    /// A property value that breaks a rule (names the property and why).
    InvalidParameter {
        parameter: &'static str,
        reason: String,
    },
    /// A registry limit (acr-auth.md §8), e.g. tokens per registry.
    QuotaExceeded {
        what: &'static str,
        limit: usize,
        sku: String,
    },
    // -- resources, managed identities, clusters (#5) --
    /// A compute resource, user-assigned identity or cluster that does not
    /// exist (`rtype` is its ARM type, e.g. `Microsoft.Web/sites`).
    ResourceNotFound {
        rtype: &'static str,
        name: String,
        resource_group: ResourceGroupName,
    },
    /// An identity asked of a resource type that cannot carry one.
    ManagedIdentityNotSupported {
        rtype: &'static str,
        kind: &'static str,
    },
    /// An operation refused because of a rule of the resource (names it).
    BadRequestFor {
        code: &'static str,
        message: String,
    },
    /// No route: a path or method the control plane does not serve.
    NoRoute {
        method: String,
        path: String,
    },
    /// Something failed on our side; the cause is logged, not sent.
    Internal,
}

pub(crate) const ALLOWED_AUDIENCES: &str = "'https://management.core.windows.net/','https://management.core.windows.net',\
'https://management.azure.com/','https://management.azure.com'";

impl ArmError {
    fn entry(&self) -> (StatusCode, &'static str, String) {
        use ArmError as E;
        match self {
            // -- resources, managed identities, clusters (#5) --
            E::ResourceNotFound {
                rtype,
                name,
                resource_group,
            } => (
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                format!(
                    "The Resource '{rtype}/{name}' under resource group '{resource_group}' was not found. \
                     For more details please go to https://aka.ms/ARMResourceNotFoundFix"
                ),
            ),
            E::ManagedIdentityNotSupported { rtype, kind } => (
                StatusCode::BAD_REQUEST,
                "ManagedIdentityNotSupported",
                format!(
                    "The resource type '{rtype}' (kind '{kind}') does not support managed identities; \
                     make sure the resource supports managed identities."
                ),
            ),
            E::BadRequestFor { code, message } => (StatusCode::BAD_REQUEST, code, message.clone()),
            E::MissingAuthorization => (
                StatusCode::UNAUTHORIZED,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.".into(),
            ),
            E::MalformedAuthorization => (
                StatusCode::UNAUTHORIZED,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is provided in an invalid format.".into(),
            ),
            E::InvalidToken => (
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "The access token is invalid.".into(),
            ),
            E::ExpiredToken { exp } => (
                StatusCode::UNAUTHORIZED,
                "ExpiredAuthenticationToken",
                format!("The access token expiry UTC time '{}' is earlier than current UTC time.", rfc3339(*exp)),
            ),
            E::WrongAudience { aud } => (
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationTokenAudience",
                format!(
                    "The access token has been obtained for wrong audience or resource '{aud}'. It should exactly \
                     match with one of the allowed audiences {ALLOWED_AUDIENCES}."
                ),
            ),
            E::AuthorizationFailed {
                caller,
                oid,
                action,
                scope,
            } => (
                StatusCode::FORBIDDEN,
                "AuthorizationFailed",
                format!(
                    "The client '{caller}' with object id '{oid}' does not have authorization to perform action \
                     '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, \
                     please refresh your credentials."
                ),
            ),
            E::SubscriptionNotFound(sub) => (
                StatusCode::NOT_FOUND,
                "SubscriptionNotFound",
                format!("The subscription '{sub}' could not be found."),
            ),
            E::ResourceGroupNotFound(rg) => (
                StatusCode::NOT_FOUND,
                "ResourceGroupNotFound",
                format!("Resource group '{rg}' could not be found."),
            ),
            E::RegistryNotFound { name, resource_group } => (
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                format!(
                    "The Resource 'Microsoft.ContainerRegistry/registries/{name}' under resource group \
                     '{resource_group}' was not found. For more details please go to \
                     https://aka.ms/ARMResourceNotFoundFix"
                ),
            ),
            E::RegistryNameNotAvailable { name } => (
                StatusCode::CONFLICT,
                "RegistryNameNotAvailable",
                format!("The registry name '{name}' is already in use. Registry names are unique on this server."),
            ),
            E::InvalidSubscriptionId(s) => (
                StatusCode::BAD_REQUEST,
                "InvalidSubscriptionId",
                format!("The provided subscription identifier '{s}' is malformed or invalid."),
            ),
            E::InvalidResourceName { kind, name, reason } => (
                StatusCode::BAD_REQUEST,
                "InvalidResourceName",
                format!("The {kind} name '{name}' is invalid: {reason}."),
            ),
            E::InvalidRequestContent(why) => (
                StatusCode::BAD_REQUEST,
                "InvalidRequestContent",
                format!("The request content was invalid and could not be deserialized: '{why}'."),
            ),
            E::AdminUserDisabled { id } => (
                StatusCode::BAD_REQUEST,
                "AdminUserDisabled",
                format!(
                    "Cannot perform credential operations for {id} as Admin user is disabled. Enable Admin user \
                     feature and try again."
                ),
            ),
            E::InvalidScope(scope) => (
                StatusCode::BAD_REQUEST,
                "InvalidScope",
                format!(
                    "The scope '{scope}' is not valid for role assignments and definitions: use '/', a \
                     subscription, a resource group or a container registry."
                ),
            ),
            E::RoleAssignmentNotFound { name } => (
                StatusCode::NOT_FOUND,
                "RoleAssignmentNotFound",
                format!("The role assignment '{name}' is not found."),
            ),
            E::RoleAssignmentUpdateNotPermitted => (
                StatusCode::BAD_REQUEST,
                "RoleAssignmentUpdateNotPermitted",
                "Tenant ID, application ID, principal ID, scope, role definition and condition are not allowed \
                 to be updated."
                    .into(),
            ),
            E::RoleAssignmentExists => (
                StatusCode::CONFLICT,
                "RoleAssignmentExists",
                "The role assignment already exists.".into(),
            ),
            E::InvalidRoleDefinitionId(id) => (
                StatusCode::BAD_REQUEST,
                "InvalidRoleDefinitionId",
                format!(
                    "The role definition ID '{id}' is not valid: expected \
                     /subscriptions/{{subscription}}/providers/Microsoft.Authorization/roleDefinitions/{{guid}}."
                ),
            ),
            E::RoleDefinitionDoesNotExist { id } => (
                StatusCode::BAD_REQUEST,
                "RoleDefinitionDoesNotExist",
                format!("The specified role definition with ID '{id}' does not exist."),
            ),
            E::RoleDefinitionNotFound { id } => (
                StatusCode::NOT_FOUND,
                "RoleDefinitionDoesNotExist",
                format!("The specified role definition with ID '{id}' does not exist."),
            ),
            E::RoleNotAssignableAtScope { role, scope } => (
                StatusCode::BAD_REQUEST,
                "RoleDefinitionNotAssignableAtScope",
                format!("The role '{role}' is not available for assignment at the requested scope '{scope}'."),
            ),
            E::PrincipalNotFound { id, tenant } => (
                StatusCode::BAD_REQUEST,
                "PrincipalNotFound",
                format!("Principal {id} does not exist in the directory {tenant}."),
            ),
            E::UnmatchedPrincipalType { id, actual, given } => (
                StatusCode::BAD_REQUEST,
                "UnmatchedPrincipalType",
                format!(
                    "The PrincipalId '{id}' has type '{actual}', which is different from specified \
                     PrincipalType '{given}'."
                ),
            ),
            E::InvalidCondition(why) => (
                StatusCode::BAD_REQUEST,
                "InvalidCondition",
                format!("The role assignment condition is invalid: {why}."),
            ),
            E::InvalidRoleDefinition(why) => (
                StatusCode::BAD_REQUEST,
                "InvalidRoleDefinition",
                format!("The role definition is invalid: {why}."),
            ),
            E::RoleDefinitionWithSameNameExists { name } => (
                StatusCode::CONFLICT,
                "RoleDefinitionWithSameNameExists",
                format!("A role definition cannot be updated with a name that already exists: '{name}'."),
            ),
            E::RoleDefinitionHasAssignments { id } => (
                StatusCode::CONFLICT,
                "RoleDefinitionHasAssignments",
                format!(
                    "There are existing role assignments referencing role '{id}'. Delete them before \
                     deleting the role definition."
                ),
            ),
            E::ChildResourceNotFound {
                kind,
                name,
                registry,
                resource_group,
            } => (
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                format!(
                    "The Resource 'Microsoft.ContainerRegistry/registries/{registry}/{kind}/{name}' under \
                     resource group '{resource_group}' was not found. For more details please go to \
                     https://aka.ms/ARMResourceNotFoundFix"
                ),
            ),
            E::SystemScopeMapReadOnly { name } => (
                StatusCode::BAD_REQUEST,
                "SystemScopeMapReadOnly",
                format!(
                    "The scope map '{name}' is system-defined: it exists in every registry and cannot be \
                     created, updated or deleted. Create a scope map of your own instead."
                ),
            ),
            E::ScopeMapInUse { name, tokens } => (
                StatusCode::CONFLICT,
                "ScopeMapInUse",
                format!(
                    "The scope map '{name}' is used by the token(s) {}. Delete them or give them another \
                     scope map first.",
                    tokens.join(", ")
                ),
            ),
            E::InvalidParameter { parameter, reason } => (
                StatusCode::BAD_REQUEST,
                "InvalidParameter",
                format!("The value of '{parameter}' is invalid: {reason}."),
            ),
            E::QuotaExceeded { what, limit, sku } => (
                StatusCode::CONFLICT,
                "QuotaExceeded",
                format!("A registry of the {sku} tier can have at most {limit} {what}."),
            ),
            E::NoRoute { method, path } => (
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("The control plane serves no {method} {path}."),
            ),
            E::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "An internal error occurred.".into(),
            ),
        }
    }
}

/// Token verification failures, each to its ARM answer.
impl From<TokenError> for ArmError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Expired { exp } => ArmError::ExpiredToken { exp },
            TokenError::WrongAudience { found, .. } => ArmError::WrongAudience { aud: found },
            TokenError::Malformed(_)
            | TokenError::Algorithm { .. }
            | TokenError::UnknownKey { .. }
            | TokenError::BadSignature
            | TokenError::NotYetValid { .. }
            | TokenError::WrongKind { .. }
            | TokenError::WrongTenant { .. }
            | TokenError::Claims(_) => ArmError::InvalidToken,
            TokenError::NoSigningKey { .. } | TokenError::InvalidKey(_) | TokenError::Crypto(_) => {
                tracing::error!(error = %e, "control plane: key ring failed");
                ArmError::Internal
            }
        }
    }
}

/// A store failure where no conflict or absence is expected: a 500 with
/// the cause logged. Call sites that expect `Conflict`/`NotFound` match
/// them first.
impl From<StoreError> for ArmError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { .. } | StoreError::NotFound { .. } | StoreError::Backend(_) => {
                tracing::error!(error = %e, "control plane: metadata store failed");
                ArmError::Internal
            }
        }
    }
}

impl From<acrylic_identity::SealError> for ArmError {
    fn from(e: acrylic_identity::SealError) -> Self {
        tracing::error!(error = %e, "control plane: sealing or opening a secret failed");
        ArmError::Internal
    }
}

impl IntoResponse for ArmError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.entry();
        let mut r = (
            status,
            axum::Json(json!({"error": {"code": code, "message": message}})),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            // As ARM answers: the client learns a bearer token is expected.
            let challenge = format!("Bearer error=\"invalid_token\", error_description=\"{code}\"");
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        r
    }
}

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes() {
        let scope = ArmScope::parse("/subscriptions/x").expect("valid scope");
        for (e, status, code) in [
            (ArmError::MissingAuthorization, 401, "AuthenticationFailed"),
            (ArmError::InvalidToken, 401, "InvalidAuthenticationToken"),
            (
                ArmError::ExpiredToken { exp: 0 },
                401,
                "ExpiredAuthenticationToken",
            ),
            (
                ArmError::AuthorizationFailed {
                    caller: "u".into(),
                    oid: "o".into(),
                    action: "a".into(),
                    scope: scope.clone(),
                },
                403,
                "AuthorizationFailed",
            ),
            (
                ArmError::AdminUserDisabled { id: scope },
                400,
                "AdminUserDisabled",
            ),
            (
                ArmError::InvalidRequestContent("x".into()),
                400,
                "InvalidRequestContent",
            ),
            (
                ArmError::RegistryNameNotAvailable { name: "r".into() },
                409,
                "RegistryNameNotAvailable",
            ),
            (ArmError::Internal, 500, "InternalServerError"),
        ] {
            let (s, c, m) = e.entry();
            assert_eq!((s.as_u16(), c), (status, code));
            assert!(!m.is_empty());
        }
        assert_eq!(
            ArmError::from(TokenError::BadSignature).entry().1,
            "InvalidAuthenticationToken"
        );
        assert_eq!(
            ArmError::from(TokenError::Expired { exp: 5 }).entry().1,
            "ExpiredAuthenticationToken"
        );
    }

    #[test]
    fn admin_disabled_message_is_acrs() {
        let id = ArmScope::parse(
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r",
        )
        .expect("valid scope");
        let (_, _, m) = ArmError::AdminUserDisabled { id }.entry();
        assert_eq!(
            m,
            "Cannot perform credential operations for /subscriptions/s/resourceGroups/g/providers/\
             Microsoft.ContainerRegistry/registries/r as Admin user is disabled. Enable Admin user feature and \
             try again."
        );
    }
}
