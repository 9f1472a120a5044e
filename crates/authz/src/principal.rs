use acrylic_model::{ObjectId, RegistryId, TenantId};

/// Who is asking. Every directory principal carries its tenant, so the
/// tenant rule is checked once, in `authorize`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    /// The admin user of one registry.
    Admin {
        registry: RegistryId,
    },
    User {
        tenant: TenantId,
        oid: ObjectId,
        upn: String,
    },
    ServicePrincipal {
        tenant: TenantId,
        oid: ObjectId,
        app_id: uuid::Uuid,
    },
    ManagedIdentity {
        tenant: TenantId,
        oid: ObjectId,
        client_id: uuid::Uuid,
    },
    /// A repository-scoped token of one registry.
    RepositoryToken {
        registry: RegistryId,
        name: String,
    },
}

impl Principal {
    /// The directory tenant, for directory principals.
    pub fn tenant(&self) -> Option<TenantId> {
        match self {
            Principal::User { tenant, .. }
            | Principal::ServicePrincipal { tenant, .. }
            | Principal::ManagedIdentity { tenant, .. } => Some(*tenant),
            _ => None,
        }
    }

    /// The directory object id (the `sub` of registry tokens, the
    /// `principalId` of role assignments).
    pub fn object_id(&self) -> Option<ObjectId> {
        match self {
            Principal::User { oid, .. }
            | Principal::ServicePrincipal { oid, .. }
            | Principal::ManagedIdentity { oid, .. } => Some(*oid),
            _ => None,
        }
    }

    /// How the audit log names this principal. Never contains a secret.
    pub fn label(&self) -> String {
        match self {
            Principal::Anonymous => "anonymous".into(),
            Principal::Admin { .. } => "admin".into(),
            Principal::User { upn, .. } => format!("user:{upn}"),
            Principal::ServicePrincipal { app_id, .. } => format!("sp:{app_id}"),
            Principal::ManagedIdentity { client_id, .. } => format!("mi:{client_id}"),
            Principal::RepositoryToken { name, .. } => format!("token:{name}"),
        }
    }
}
