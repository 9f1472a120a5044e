//! The client credentials grant (`grant_type=client_credentials`,
//! acr-auth.md §5.1, clients.md "The directory"): an application signs in
//! as itself — ClientSecretCredential, CertificateCredential,
//! ClientAssertionCredential / WorkloadIdentityCredential, `az login
//! --service-principal`, `acrylic login --service-principal`.
//!
//! Request (form): `client_id`, `scope=<resource>/.default`, and either
//! `client_secret` or `client_assertion_type=urn:ietf:params:oauth:
//! client-assertion-type:jwt-bearer` with `client_assertion`
//! ([`super::assertion`]: certificates and federated tokens).
//!
//! Order, each refusal in Microsoft's shape: a tenant-specific path
//! (AADSTS50059 for `organizations`/`common`) → the application exists and
//! has a service principal in that tenant — the home tenant, or another
//! one where a multi-tenant app was provisioned (AADSTS700016 otherwise) →
//! the service principal is enabled → the credential (secret: right,
//! started, not ended — AADSTS7000215 / 7000222; assertion: see there) →
//! an access token with `idtyp=app`, `appid`, `appidacr` (`1` secret, `2`
//! certificate or federated), `oid`/`sub` = the service principal in the
//! requested tenant, `tid` = that tenant (acr-auth.md §5.3). No refresh or
//! id token, as Entra answers this grant.
//!
//! The answer carries `acrylic-credential-expires-on` (RFC 3339) naming
//! when the credential used ends, so the CLI can warn before it does.
//! Every sign-in, granted or refused, is audited as `sp:<appId>`.

use std::collections::HashMap;
use std::net::SocketAddr;

use acrylic_store::AppCredential;
use time::OffsetDateTime;

use super::apps::{self, SecretCheck, date};
use super::assertion::{self, Endpoint, JWT_BEARER, Proof};
use super::token::{RequestedScope, required};
use super::{DirectoryError, TenantSegment, internal, issue};
use crate::AppState;

/// The response header naming when the credential used ends.
pub const CREDENTIAL_EXPIRES_HEADER: &str = "acrylic-credential-expires-on";

/// How the client proves itself.
pub(in crate::directory) enum ClientCredential {
    Secret(String),
    Assertion(String),
}

/// A parsed client credentials request. Secrets are hidden from `Debug`.
pub(in crate::directory) struct Request {
    client_id: String,
    credential: ClientCredential,
    scope: RequestedScope,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl Request {
    pub(in crate::directory) fn parse(
        form: &HashMap<String, String>,
        tenant: &str,
    ) -> Result<Request, DirectoryError> {
        let client_id = required(form, "client_id")?;
        let raw_scope = required(form, "scope")?;
        let scope = RequestedScope::parse(&raw_scope, tenant)?;
        // Entra: the client credentials grant takes `<resource>/.default` only.
        if !scope.scopes.iter().any(|s| s.ends_with("/.default")) {
            return Err(DirectoryError::ScopeNotDefault(raw_scope));
        }
        let field = |k: &str| form.get(k).filter(|v| !v.is_empty()).cloned();
        let credential = match (field("client_secret"), field("client_assertion")) {
            (Some(secret), _) => ClientCredential::Secret(secret),
            (None, Some(assertion)) => {
                let kind = field("client_assertion_type").unwrap_or_default();
                if kind != JWT_BEARER {
                    return Err(DirectoryError::InvalidAssertionType(
                        kind.chars().take(128).collect(),
                    ));
                }
                ClientCredential::Assertion(assertion)
            }
            (None, None) => return Err(DirectoryError::MissingClientCredential),
        };
        Ok(Request {
            client_id,
            credential,
            scope,
        })
    }
}

/// What the grant hands back: the token body and when the credential used
/// ends (`None` for federated credentials, which have no end).
pub(in crate::directory) struct Granted {
    pub body: issue::AppTokenResponse,
    pub credential_end: Option<OffsetDateTime>,
}

pub(in crate::directory) async fn grant(
    state: &AppState,
    segment: &TenantSegment,
    raw_tenant: &str,
    base: &str,
    req: Request,
    addr: Option<SocketAddr>,
) -> Result<Granted, DirectoryError> {
    let tenant = segment
        .resolve(state, raw_tenant)
        .await?
        .ok_or(DirectoryError::TenantRequired)?;
    let unknown = || DirectoryError::UnknownClient {
        client_id: req.client_id.clone(),
        tenant: raw_tenant.to_owned(),
    };
    let label = format!("sp:{}", req.client_id.chars().take(64).collect::<String>());
    let result: Result<Granted, DirectoryError> = async {
        let app_id = uuid::Uuid::parse_str(req.client_id.trim()).map_err(|_| unknown())?;
        let app = state
            .meta
            .find_application_by_app_id(&app_id)
            .await
            .map_err(internal)?
            .ok_or_else(unknown)?;
        let sp = apps::service_principal_in(state, &app, &tenant.id)
            .await
            .map_err(internal)?
            .ok_or_else(unknown)?;
        if !sp.enabled {
            return Err(DirectoryError::ServicePrincipalDisabled {
                client_id: app_id.to_string(),
            });
        }
        let client_id = app_id.to_string();
        let (acr, credential_end): (&str, Option<OffsetDateTime>) = match &req.credential {
            ClientCredential::Secret(secret) => {
                let c = secret_credential(state, &app, &sp, secret, &client_id).await?;
                ("1", Some(c.end_at))
            }
            ClientCredential::Assertion(token) => {
                let endpoint = Endpoint {
                    base,
                    raw_tenant,
                    tenant_id: &tenant.id.to_string(),
                };
                match assertion::verify(state, &app, &req.client_id, &endpoint, token)
                    .await
                    .map_err(DirectoryError::InvalidClientAssertion)?
                {
                    Proof::Certificate(c) => ("2", Some(c.end_at)),
                    Proof::Federated(_) => ("2", None),
                }
            }
        };
        let body = issue::app_tokens(state, &app, &sp, &req.scope, acr).await?;
        Ok(Granted {
            body,
            credential_end,
        })
    }
    .await;
    match &result {
        Ok(g) => {
            let ends = g
                .credential_end
                .map(|e| format!("; credential ends {}", date(e)))
                .unwrap_or_default();
            audit(
                state,
                &label,
                "granted",
                addr,
                &format!(
                    "token for {} in tenant {}{ends}",
                    req.scope.resource, tenant.id
                ),
            )
            .await;
        }
        Err(e) => {
            audit(state, &label, "failed", addr, &format!("{e:?}")).await;
        }
    }
    result
}

async fn secret_credential(
    state: &AppState,
    app: &acrylic_store::Application,
    sp: &acrylic_store::ServicePrincipal,
    secret: &str,
    client_id: &str,
) -> Result<AppCredential, DirectoryError> {
    match apps::check_secret(state, app, sp, secret)
        .await
        .map_err(internal)?
    {
        SecretCheck::Valid(c) => Ok(c),
        SecretCheck::Expired(c) => Err(DirectoryError::ClientSecretExpired {
            client_id: client_id.to_owned(),
            key_id: c.key_id,
            end: date(c.end_at),
        }),
        SecretCheck::NotYetValid(c) => Err(DirectoryError::ClientSecretNotYetValid {
            client_id: client_id.to_owned(),
            key_id: c.key_id,
            start: date(c.start_at),
        }),
        SecretCheck::Wrong => Err(DirectoryError::InvalidClientSecret {
            client_id: client_id.to_owned(),
        }),
    }
}

/// App sign-ins are audited (no registry); a failure to record is logged,
/// not fatal to the sign-in.
async fn audit(
    state: &AppState,
    principal: &str,
    decision: &str,
    client: Option<SocketAddr>,
    detail: &str,
) {
    crate::audit::Event::new(principal, "signin", decision)
        .client(client)
        .detail(Some(detail.chars().take(1000).collect()))
        .record_best_effort(state)
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn request_shapes() {
        let scope = "https://containerregistry.azure.net/.default";
        let secret = Request::parse(
            &form(&[
                ("client_id", "a"),
                ("scope", scope),
                ("client_secret", "s3cret"),
            ]),
            "t",
        );
        assert!(matches!(
            secret,
            Ok(Request {
                credential: ClientCredential::Secret(_),
                ..
            })
        ));
        let shown = format!("{:?}", secret.ok());
        assert!(!shown.contains("s3cret"), "{shown}");

        let assertion = Request::parse(
            &form(&[
                ("client_id", "a"),
                ("scope", scope),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", "x.y.z"),
            ]),
            "t",
        );
        assert!(matches!(
            assertion,
            Ok(Request {
                credential: ClientCredential::Assertion(_),
                ..
            })
        ));
        assert!(matches!(
            Request::parse(
                &form(&[
                    ("client_id", "a"),
                    ("scope", scope),
                    ("client_assertion_type", "urn:other"),
                    ("client_assertion", "x.y.z"),
                ]),
                "t"
            ),
            Err(DirectoryError::InvalidAssertionType(_))
        ));
        assert!(matches!(
            Request::parse(&form(&[("client_id", "a"), ("scope", scope)]), "t"),
            Err(DirectoryError::MissingClientCredential)
        ));
        assert!(matches!(
            Request::parse(
                &form(&[
                    ("client_id", "a"),
                    ("scope", "https://management.azure.com/user_impersonation"),
                    ("client_secret", "s"),
                ]),
                "t"
            ),
            Err(DirectoryError::ScopeNotDefault(_))
        ));
        assert!(matches!(
            Request::parse(&form(&[("scope", scope), ("client_secret", "s")]), "t"),
            Err(DirectoryError::MissingParameter("client_id"))
        ));
    }
}
