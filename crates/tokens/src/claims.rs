//! Claim sets, in the exact shapes ACR and Entra issue (acr-auth.md §2.3,
//! §3.5, §5.3), plus one acrylic claim that says which principal a
//! registry token stands for, so the data plane can re-run `authorize`
//! against current facts on every request.

use acrylic_authz::{Action, Principal, RepoAction};
use acrylic_model::{ObjectId, RegistryId, RepositoryName, TenantId};
use serde::{Deserialize, Serialize};

use crate::TokenError;

/// `iss` of every registry token (acr-auth.md §2.3, §3.5).
pub const ISSUER: &str = "Azure Container Registry";
/// Registry access tokens live 75 minutes (acr-auth.md §3.6).
pub const ACCESS_TOKEN_LIFETIME: i64 = 75 * 60;
/// Anonymous access tokens live 20 minutes (acr-auth.md §3.4).
pub const ANONYMOUS_TOKEN_LIFETIME: i64 = 20 * 60;
/// Registry refresh tokens live 3 hours (acr-auth.md §2.3, §3.6).
pub const REFRESH_TOKEN_LIFETIME: i64 = 3 * 60 * 60;

/// Which principal a registry token stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PrincipalClaim {
    Anonymous,
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
    RepositoryToken {
        registry: RegistryId,
        name: String,
    },
}

impl From<&Principal> for PrincipalClaim {
    fn from(p: &Principal) -> Self {
        match p.clone() {
            Principal::Anonymous => Self::Anonymous,
            Principal::Admin { registry } => Self::Admin { registry },
            Principal::User { tenant, oid, upn } => Self::User { tenant, oid, upn },
            Principal::ServicePrincipal {
                tenant,
                oid,
                app_id,
            } => Self::ServicePrincipal {
                tenant,
                oid,
                app_id,
            },
            Principal::ManagedIdentity {
                tenant,
                oid,
                client_id,
            } => Self::ManagedIdentity {
                tenant,
                oid,
                client_id,
            },
            Principal::RepositoryToken { registry, name } => {
                Self::RepositoryToken { registry, name }
            }
        }
    }
}

impl From<PrincipalClaim> for Principal {
    fn from(c: PrincipalClaim) -> Self {
        match c {
            PrincipalClaim::Anonymous => Self::Anonymous,
            PrincipalClaim::Admin { registry } => Self::Admin { registry },
            PrincipalClaim::User { tenant, oid, upn } => Self::User { tenant, oid, upn },
            PrincipalClaim::ServicePrincipal {
                tenant,
                oid,
                app_id,
            } => Self::ServicePrincipal {
                tenant,
                oid,
                app_id,
            },
            PrincipalClaim::ManagedIdentity {
                tenant,
                oid,
                client_id,
            } => Self::ManagedIdentity {
                tenant,
                oid,
                client_id,
            },
            PrincipalClaim::RepositoryToken { registry, name } => {
                Self::RepositoryToken { registry, name }
            }
        }
    }
}

/// The `acrylic` claim: the principal, and the role-assignment mode the
/// token was issued under — a registry switched between RBAC and ABAC
/// refuses credentials issued under the other mode (acr-auth.md §2.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcrylicClaim {
    #[serde(flatten)]
    pub principal: PrincipalClaim,
    #[serde(default)]
    pub abac: bool,
}

impl AcrylicClaim {
    pub fn new(principal: &Principal, abac: bool) -> AcrylicClaim {
        AcrylicClaim {
            principal: principal.into(),
            abac,
        }
    }

    pub fn principal(&self) -> Principal {
        self.principal.clone().into()
    }
}

/// One entry of the Docker `access` claim; lowercase keys, as az CLI reads
/// them (acr-auth.md §3.1, §3.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl AccessEntry {
    pub fn repository(name: &RepositoryName, actions: &[RepoAction]) -> AccessEntry {
        AccessEntry {
            kind: "repository".into(),
            name: name.to_string(),
            actions: actions.iter().map(|a| a.as_str().to_owned()).collect(),
        }
    }

    pub fn catalog() -> AccessEntry {
        AccessEntry {
            kind: "registry".into(),
            name: "catalog".into(),
            actions: vec!["*".into()],
        }
    }

    /// Whether this entry covers `action` on `kind:name`. A repository
    /// entry named `*` (granted for `repository:*:…`, acr-auth.md §3.5)
    /// covers every repository.
    fn allows(&self, kind: &str, name: &str, action: &str) -> bool {
        self.kind == kind
            && (self.name == name || (kind == "repository" && self.name == "*"))
            && self.actions.iter().any(|a| a == action || a == "*")
    }
}

/// A registry access token (acr-auth.md §3.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub jti: String,
    pub sub: String,
    pub nbf: i64,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    /// The registry's login server.
    pub aud: String,
    /// `"2.0"`.
    pub version: String,
    pub rid: RegistryId,
    pub access: Vec<AccessEntry>,
    pub roles: Vec<String>,
    /// `"access_token"`.
    pub grant_type: String,
    pub acrylic: AcrylicClaim,
}

impl AccessClaims {
    /// A new access token's claims, valid from `now` for `lifetime` seconds.
    pub fn new(
        acrylic: AcrylicClaim,
        sub: String,
        login_server: &str,
        rid: RegistryId,
        access: Vec<AccessEntry>,
        now: i64,
        lifetime: i64,
    ) -> AccessClaims {
        AccessClaims {
            jti: uuid::Uuid::new_v4().to_string(),
            sub,
            nbf: now,
            iat: now,
            exp: now + lifetime,
            iss: ISSUER.into(),
            aud: login_server.into(),
            version: "2.0".into(),
            rid,
            access,
            roles: vec![],
            grant_type: "access_token".into(),
            acrylic,
        }
    }

    /// Whether the `access` claim covers `action` (protocol check only;
    /// `authorize` still runs on current facts).
    pub fn allows(&self, repository: Option<&RepositoryName>, action: &Action) -> bool {
        match (repository, action) {
            (Some(name), Action::Repository(a)) => self
                .access
                .iter()
                .any(|e| e.allows("repository", name.as_str(), a.as_str())),
            (_, Action::CatalogList) => self
                .access
                .iter()
                .any(|e| e.allows("registry", "catalog", "*")),
            _ => false,
        }
    }
}

/// `permissions` of a refresh token: a coarse summary (acr-auth.md §2.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshPermissions {
    pub actions: Vec<String>,
    #[serde(rename = "notActions")]
    pub not_actions: Option<Vec<String>>,
}

/// A registry refresh token (acr-auth.md §2.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshClaims {
    pub jti: String,
    pub sub: String,
    pub nbf: i64,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    /// `"1.0"`.
    pub version: String,
    pub rid: RegistryId,
    /// `"refresh_token"`.
    pub grant_type: String,
    pub permissions: RefreshPermissions,
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantId>,
    /// Present only in tokens of ABAC-mode registries: acr-cli detects ABAC
    /// by this claim and then asks per-repository scopes instead of
    /// `repository:*:*` (acr-auth.md §2.3, §4.4). ACR's value format is
    /// unknown (§9.4); acrylic writes the principal's object id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad_identity: Option<String>,
    pub acrylic: AcrylicClaim,
}

impl RefreshClaims {
    /// A new refresh token's claims, valid from `now` for 3 hours.
    pub fn new(
        acrylic: AcrylicClaim,
        sub: String,
        login_server: &str,
        rid: RegistryId,
        actions: Vec<String>,
        now: i64,
    ) -> RefreshClaims {
        RefreshClaims {
            jti: uuid::Uuid::new_v4().to_string(),
            sub,
            nbf: now,
            iat: now,
            exp: now + REFRESH_TOKEN_LIFETIME,
            iss: ISSUER.into(),
            aud: login_server.into(),
            version: "1.0".into(),
            rid,
            grant_type: "refresh_token".into(),
            permissions: RefreshPermissions {
                actions,
                not_actions: None,
            },
            roles: vec![],
            tenant: acrylic.principal().tenant(),
            aad_identity: acrylic
                .abac
                .then(|| acrylic.principal().object_id())
                .flatten()
                .map(|oid| oid.to_string()),
            acrylic,
        }
    }
}

/// A directory access token, Entra v1 style (acr-auth.md §5.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryClaims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub tid: TenantId,
    pub oid: ObjectId,
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `user` or `app`.
    pub idtyp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    /// `"1.0"`.
    pub ver: String,
}

/// Reads `grant_type` from raw claims, to tell refresh from access tokens
/// before deserializing into either shape.
pub(crate) fn grant_type(raw: &serde_json::Value) -> Result<&str, TokenError> {
    raw.get("grant_type")
        .and_then(|v| v.as_str())
        .ok_or_else(|| TokenError::Claims("missing grant_type".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_claim_round_trips_every_kind() {
        let tenant = TenantId::new_random();
        let oid = ObjectId::new_random();
        let reg = RegistryId::new_random();
        for p in [
            Principal::Anonymous,
            Principal::Admin {
                registry: reg.clone(),
            },
            Principal::User {
                tenant,
                oid,
                upn: "a@b.c".into(),
            },
            Principal::ServicePrincipal {
                tenant,
                oid,
                app_id: uuid::Uuid::new_v4(),
            },
            Principal::ManagedIdentity {
                tenant,
                oid,
                client_id: uuid::Uuid::new_v4(),
            },
            Principal::RepositoryToken {
                registry: reg.clone(),
                name: "ci".into(),
            },
        ] {
            let claim = AcrylicClaim::new(&p, false);
            let json = serde_json::to_value(&claim).unwrap();
            let back: AcrylicClaim = serde_json::from_value(json).unwrap();
            assert_eq!(back.principal(), p);
        }
    }

    #[test]
    fn access_claims_have_acr_shape() {
        let reg = RegistryId::new_random();
        let name = RepositoryName::parse("team/app").unwrap();
        let c = AccessClaims::new(
            AcrylicClaim::new(
                &Principal::Admin {
                    registry: reg.clone(),
                },
                false,
            ),
            "myreg".into(),
            "myreg.example.test",
            reg.clone(),
            vec![
                AccessEntry::repository(&name, &[RepoAction::Pull]),
                AccessEntry::catalog(),
            ],
            1000,
            ACCESS_TOKEN_LIFETIME,
        );
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["iss"], "Azure Container Registry");
        assert_eq!(v["version"], "2.0");
        assert_eq!(v["grant_type"], "access_token");
        assert_eq!(v["exp"], 1000 + 4500);
        assert_eq!(v["rid"], reg.as_str());
        assert_eq!(v["roles"], serde_json::json!([]));
        assert_eq!(
            v["access"][0],
            serde_json::json!({"type": "repository", "name": "team/app", "actions": ["pull"]})
        );
        assert_eq!(v["acrylic"]["kind"], "admin");
        assert!(c.allows(Some(&name), &Action::Repository(RepoAction::Pull)));
        assert!(!c.allows(Some(&name), &Action::Repository(RepoAction::Push)));
        let other = RepositoryName::parse("team/other").unwrap();
        assert!(!c.allows(Some(&other), &Action::Repository(RepoAction::Pull)));
        assert!(c.allows(None, &Action::CatalogList));

        // `repository:*:…` grants cover every repository, and only those.
        let wildcard = AccessClaims::new(
            c.acrylic.clone(),
            "myreg".into(),
            "myreg.example.test",
            reg.clone(),
            vec![AccessEntry {
                kind: "repository".into(),
                name: "*".into(),
                actions: vec!["pull".into(), "delete".into()],
            }],
            1000,
            ACCESS_TOKEN_LIFETIME,
        );
        assert!(wildcard.allows(Some(&other), &Action::Repository(RepoAction::Pull)));
        assert!(wildcard.allows(Some(&name), &Action::Repository(RepoAction::Delete)));
        assert!(!wildcard.allows(Some(&name), &Action::Repository(RepoAction::Push)));
        assert!(!wildcard.allows(None, &Action::CatalogList));
    }

    #[test]
    fn refresh_claims_have_acr_shape() {
        let tenant = TenantId::new_random();
        let p = Principal::User {
            tenant,
            oid: ObjectId::new_random(),
            upn: "u@t".into(),
        };
        let c = RefreshClaims::new(
            AcrylicClaim::new(&p, false),
            "sub".into(),
            "r.example",
            RegistryId::new_random(),
            vec!["read".into()],
            10,
        );
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["version"], "1.0");
        assert_eq!(v["grant_type"], "refresh_token");
        assert_eq!(v["exp"], 10 + 3 * 3600);
        assert_eq!(
            v["permissions"],
            serde_json::json!({"actions": ["read"], "notActions": null})
        );
        assert_eq!(v["tenant"], tenant.to_string());
        assert!(
            v.get("aad_identity").is_none(),
            "RBAC registries: no ABAC marker"
        );

        let abac = RefreshClaims::new(
            AcrylicClaim::new(&p, true),
            "sub".into(),
            "r.example",
            RegistryId::new_random(),
            vec![],
            10,
        );
        let v = serde_json::to_value(&abac).unwrap();
        assert_eq!(v["aad_identity"], p.object_id().unwrap().to_string());
        let back: RefreshClaims = serde_json::from_value(v).unwrap();
        assert_eq!(back, abac);
    }
}
