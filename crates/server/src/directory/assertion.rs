//! Client assertions (`client_assertion_type=urn:ietf:params:oauth:
//! client-assertion-type:jwt-bearer`, acr-auth.md §5.1; RFC 7523): a JWT
//! the client presents instead of a secret. Two kinds, told apart by `iss`:
//!
//! - **certificate** (`iss` = `sub` = the client id): MSAL signs it with a
//!   certificate's private key, `PS256` with header `x5t#S256` or `RS256`
//!   with `x5t` (the certificate's SHA-256 / SHA-1 thumbprint). Checked in
//!   this order: algorithm (only those two: never `none` or an HMAC), the
//!   thumbprint names a certificate credential of the application, the
//!   signature verifies with it, `iss`/`sub`, `aud` is this token endpoint,
//!   `exp`/`nbf` (with [`LEEWAY`]), a lifetime of at most
//!   [`MAX_ASSERTION_LIFETIME`], the credential's own start and end dates,
//!   and finally `jti`: recorded in the store until `exp`, so a replayed
//!   assertion is refused by every replica. The signature is checked
//!   before the `jti` is recorded, so nobody can burn another's `jti`s.
//! - **federated** (any other `iss`): an external OIDC token (a CI
//!   system's, a Kubernetes service account's). The application must have
//!   a federated credential naming that issuer; the token must verify with
//!   the issuer's published keys ([`super::federation`]), be unexpired,
//!   and match one credential's subject exactly and one of its audiences
//!   (default `api://AzureADTokenExchange`). Entra's AADSTS700211 /
//!   70021 / 700212 name which part did not match.

use acrylic_store::{AppCredential, AppCredentialKind, Application, FederatedCredential};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use super::apps::{Validity, date, validity};
use super::certificate::{self, AssertionAlgorithm};
use super::federation::FederationError;
use crate::AppState;

/// The only `client_assertion_type` (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Clock skew tolerated on `exp` and `nbf`, in seconds (as for tokens).
pub const LEEWAY: i64 = acrylic_tokens::LEEWAY;
/// Certificate assertions may live at most this long (MSAL makes them
/// live 10 minutes); it bounds how long their `jti`s are kept.
pub const MAX_ASSERTION_LIFETIME: i64 = 24 * 3600;
/// The default audience of federated credentials.
pub const FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";

/// Why an assertion was refused; each has Entra's AADSTS code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    #[error("The client assertion is not a valid JWT: {0}.")]
    Malformed(String),
    #[error(
        "The client assertion's signature algorithm '{0}' is not supported; sign it PS256 (with an \
         x5t#S256 header) or RS256 (with an x5t header)."
    )]
    Algorithm(String),
    #[error(
        "The client assertion names no certificate: its header needs x5t#S256 or x5t (the \
         certificate's thumbprint)."
    )]
    NoThumbprint,
    #[error(
        "The certificate with identifier used to sign the client assertion is not registered on \
         application '{app_id}'. Add it with `acrylic ad sp credential reset --id {app_id} --cert @<file.pem> --append`."
    )]
    UnknownCertificate { app_id: uuid::Uuid },
    #[error("The client assertion's signature does not verify with the registered certificate.")]
    BadSignature,
    #[error(
        "Client assertion application identifier doesn't match 'client_id' parameter: iss and sub \
         must both be '{client_id}'."
    )]
    WrongIssuer { client_id: String },
    #[error(
        "The client assertion's audience claim does not match this token endpoint: aud must be '{expected}'."
    )]
    WrongAudience { expected: String },
    #[error(
        "Client assertion is not within its valid time range. Current time: {now}, assertion valid \
         from {nbf}, expiry time of assertion {exp}."
    )]
    OutsideValidity {
        now: String,
        nbf: String,
        exp: String,
    },
    #[error("The client assertion lives longer than {MAX_ASSERTION_LIFETIME} seconds.")]
    TooLong,
    #[error("The client assertion has no 'jti' claim; every assertion needs a unique one.")]
    MissingJti,
    #[error(
        "The client assertion was already used (its 'jti' was presented before); sign a new \
         assertion for every request."
    )]
    Replayed,
    #[error(
        "The certificate credential {key_id} of application '{app_id}' expired at {end}. Add a new \
         certificate with `acrylic ad sp credential reset --id {app_id} --create-cert`."
    )]
    CertificateExpired {
        app_id: uuid::Uuid,
        key_id: uuid::Uuid,
        end: String,
    },
    #[error(
        "The certificate credential {key_id} of application '{app_id}' is not valid before {start}."
    )]
    CertificateNotYetValid {
        app_id: uuid::Uuid,
        key_id: uuid::Uuid,
        start: String,
    },
    #[error(
        "No matching federated identity record found for presented assertion issuer '{issuer}'. \
         Please check your federated identity credential Subject, Audience and Issuer against the \
         presented assertion."
    )]
    UnknownIssuer { issuer: String },
    #[error(
        "No matching federated identity record found for presented assertion. Assertion Issuer: \
         '{issuer}'. Assertion Subject: '{subject}'. Assertion Audience: '{audience}'."
    )]
    NoMatchingSubject {
        issuer: String,
        subject: String,
        audience: String,
    },
    #[error(
        "No matching federated identity record found for presented assertion audience '{audience}'. \
         Please check your federated identity credential Subject, Audience and Issuer against the \
         presented assertion."
    )]
    AudienceMismatch { audience: String },
    #[error("The external token could not be validated: {0}.")]
    Federation(FederationError),
}

impl AssertionError {
    /// Entra's AADSTS code for the refusal.
    pub fn code(&self) -> u32 {
        match self {
            AssertionError::Malformed(_) | AssertionError::MissingJti => 50027,
            AssertionError::Algorithm(_) => 5002738,
            AssertionError::NoThumbprint
            | AssertionError::UnknownCertificate { .. }
            | AssertionError::BadSignature
            | AssertionError::CertificateExpired { .. }
            | AssertionError::CertificateNotYetValid { .. } => 700027,
            AssertionError::WrongIssuer { .. } => 700021,
            AssertionError::WrongAudience { .. } => 700023,
            AssertionError::OutsideValidity { .. } | AssertionError::TooLong => 700024,
            AssertionError::Replayed => 700025,
            AssertionError::UnknownIssuer { .. } => 700211,
            AssertionError::NoMatchingSubject { .. } => 70021,
            AssertionError::AudienceMismatch { .. } => 700212,
            AssertionError::Federation(FederationError::Unreachable { .. })
            | AssertionError::Federation(FederationError::InsecureIssuer(_)) => 50166,
            AssertionError::Federation(_) => 700027,
        }
    }

    /// A malformed request (400) rather than a refused credential (401).
    pub fn is_malformed(&self) -> bool {
        matches!(self, AssertionError::Malformed(_))
    }
}

/// What signed the application in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    Certificate(AppCredential),
    Federated(FederatedCredential),
}

/// A JWT split into its parts, nothing verified yet.
struct Jwt<'a> {
    header: Header,
    claims: Claims,
    /// `base64url(header).base64url(claims)`: what is signed.
    signed: &'a str,
    signature: Vec<u8>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(rename = "x5t#S256")]
    x5t_s256: Option<String>,
    x5t: Option<String>,
}

#[derive(Deserialize, Default)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    #[serde(default)]
    aud: Value,
    #[serde(default, deserialize_with = "seconds")]
    exp: Option<i64>,
    #[serde(default, deserialize_with = "seconds")]
    nbf: Option<i64>,
    jti: Option<String>,
}

/// A NumericDate (RFC 7519 §2): whole or fractional seconds — MSAL's
/// assertions carry `time.time()` floats — truncated to whole seconds.
fn seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let n: Option<serde_json::Number> = Option::deserialize(d)?;
    Ok(n.and_then(|n| {
        n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && f.abs() < 1e15)
                .map(|f| f.trunc() as i64)
        })
    }))
}

impl Claims {
    fn audiences(&self) -> Vec<String> {
        match &self.aud {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }
}

fn split(token: &str) -> Result<Jwt<'_>, AssertionError> {
    let malformed = |why: &str| AssertionError::Malformed(why.to_owned());
    let (signed, signature) = token
        .rsplit_once('.')
        .ok_or_else(|| malformed("it does not have three parts"))?;
    let (header, claims) = signed
        .split_once('.')
        .ok_or_else(|| malformed("it does not have three parts"))?;
    let decode = |part: &str, what: &str| {
        URL_SAFE_NO_PAD
            .decode(part.trim_end_matches('='))
            .map_err(|_| malformed(&format!("its {what} is not base64url")))
    };
    let header: Header = serde_json::from_slice(&decode(header, "header")?)
        .map_err(|_| malformed("its header is not the JSON of a JWT header"))?;
    let claims: Claims = serde_json::from_slice(&decode(claims, "payload")?)
        .map_err(|_| malformed("its payload is not a JSON object of claims"))?;
    Ok(Jwt {
        header,
        claims,
        signed,
        signature: decode(signature, "signature")?,
    })
}

/// Where the request was addressed, for the `aud` check: the token
/// endpoint as the client reached it (`<base>/<tenant>/oauth2/v2.0/token`,
/// with the tenant as written or as its id; the v1 path too).
pub struct Endpoint<'a> {
    pub base: &'a str,
    pub raw_tenant: &'a str,
    pub tenant_id: &'a str,
}

impl Endpoint<'_> {
    fn expected(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.base, self.raw_tenant)
    }

    fn matches(&self, aud: &str) -> bool {
        let aud = aud.trim_end_matches('/');
        [self.raw_tenant, self.tenant_id].iter().any(|t| {
            ["oauth2/v2.0/token", "oauth2/token"]
                .iter()
                .any(|p| aud.eq_ignore_ascii_case(&format!("{}/{t}/{p}", self.base)))
        })
    }
}

/// Verifies `token` as a client assertion of `app` (see the module docs).
pub async fn verify(
    state: &AppState,
    app: &Application,
    client_id: &str,
    endpoint: &Endpoint<'_>,
    token: &str,
) -> Result<Proof, AssertionError> {
    let jwt = split(token)?;
    let self_issued = jwt
        .claims
        .iss
        .as_deref()
        .is_some_and(|i| i.eq_ignore_ascii_case(client_id));
    if self_issued {
        certificate_assertion(state, app, client_id, endpoint, &jwt).await
    } else {
        federated_assertion(state, app, token, &jwt).await
    }
}

fn internal(e: acrylic_store::StoreError) -> AssertionError {
    tracing::error!(error = %e, "client assertion: metadata store failed");
    AssertionError::Malformed("the server could not check it".into())
}

/// `exp` and `nbf` at `now`, with [`LEEWAY`].
fn check_time(claims: &Claims, now: i64) -> Result<(i64, i64), AssertionError> {
    let exp = claims
        .exp
        .ok_or_else(|| AssertionError::Malformed("it has no 'exp' claim".into()))?;
    let nbf = claims.nbf.unwrap_or(i64::MIN);
    if now >= exp + LEEWAY || now + LEEWAY < nbf {
        let show = |t: i64| {
            OffsetDateTime::from_unix_timestamp(t)
                .map(date)
                .unwrap_or_else(|_| t.to_string())
        };
        return Err(AssertionError::OutsideValidity {
            now: show(now),
            nbf: claims.nbf.map(show).unwrap_or_else(|| "-".into()),
            exp: show(exp),
        });
    }
    Ok((exp, nbf))
}

async fn certificate_assertion(
    state: &AppState,
    app: &Application,
    client_id: &str,
    endpoint: &Endpoint<'_>,
    jwt: &Jwt<'_>,
) -> Result<Proof, AssertionError> {
    let alg = match jwt.header.alg.as_str() {
        "PS256" => AssertionAlgorithm::Ps256,
        "RS256" => AssertionAlgorithm::Rs256,
        other => return Err(AssertionError::Algorithm(other.chars().take(32).collect())),
    };
    let thumbprint = |b64: &str| {
        URL_SAFE_NO_PAD
            .decode(b64.trim_end_matches('='))
            .map(hex::encode)
            .ok()
    };
    let (sha256, sha1) = (
        jwt.header.x5t_s256.as_deref().and_then(thumbprint),
        jwt.header.x5t.as_deref().and_then(thumbprint),
    );
    if sha256.is_none() && sha1.is_none() {
        return Err(AssertionError::NoThumbprint);
    }
    let credential = state
        .meta
        .list_app_credentials(&app.id)
        .await
        .map_err(internal)?
        .into_iter()
        .find(|c| match &c.kind {
            AppCredentialKind::Certificate {
                sha1: s1,
                sha256: s256,
                ..
            } => match (&sha256, &sha1) {
                (Some(want), _) => want == s256,
                (None, Some(want)) => want == s1,
                (None, None) => false,
            },
            AppCredentialKind::Password { .. } => false,
        })
        .ok_or(AssertionError::UnknownCertificate { app_id: app.app_id })?;
    let AppCredentialKind::Certificate { der, .. } = &credential.kind else {
        return Err(AssertionError::UnknownCertificate { app_id: app.app_id });
    };
    if !certificate::verify(der, alg, jwt.signed.as_bytes(), &jwt.signature) {
        return Err(AssertionError::BadSignature);
    }

    let claims = &jwt.claims;
    let names_client = |v: &Option<String>| {
        v.as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(client_id))
    };
    if !names_client(&claims.iss) || !names_client(&claims.sub) {
        return Err(AssertionError::WrongIssuer {
            client_id: client_id.to_owned(),
        });
    }
    if !claims.audiences().iter().any(|a| endpoint.matches(a)) {
        return Err(AssertionError::WrongAudience {
            expected: endpoint.expected(),
        });
    }
    let now = state.clock.now();
    let (exp, nbf) = check_time(claims, now.unix_timestamp())?;
    if exp - nbf.max(now.unix_timestamp() - LEEWAY) > MAX_ASSERTION_LIFETIME {
        return Err(AssertionError::TooLong);
    }
    match validity(&credential, now) {
        Validity::Valid => {}
        Validity::Expired => {
            return Err(AssertionError::CertificateExpired {
                app_id: app.app_id,
                key_id: credential.key_id,
                end: date(credential.end_at),
            });
        }
        Validity::NotYetValid => {
            return Err(AssertionError::CertificateNotYetValid {
                app_id: app.app_id,
                key_id: credential.key_id,
                start: date(credential.start_at),
            });
        }
    }
    let jti = claims
        .jti
        .as_deref()
        .filter(|j| !j.is_empty())
        .ok_or(AssertionError::MissingJti)?;
    let key = replay_key(client_id, jti);
    let keep_until =
        OffsetDateTime::from_unix_timestamp(exp + LEEWAY).map_err(|_| AssertionError::TooLong)?;
    if !state
        .meta
        .record_assertion_jti(&key, keep_until)
        .await
        .map_err(internal)?
    {
        return Err(AssertionError::Replayed);
    }
    Ok(Proof::Certificate(credential))
}

/// What the store keeps of a used assertion: a digest of the client and
/// its `jti` (lowercase hex SHA-256), never the assertion.
fn replay_key(client_id: &str, jti: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"client-assertion\0");
    h.update(client_id.to_ascii_lowercase().as_bytes());
    h.update([0u8]);
    h.update(jti.as_bytes());
    hex::encode(h.finalize())
}

async fn federated_assertion(
    state: &AppState,
    app: &Application,
    token: &str,
    jwt: &Jwt<'_>,
) -> Result<Proof, AssertionError> {
    let issuer = jwt
        .claims
        .iss
        .clone()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| AssertionError::Malformed("it has no 'iss' claim".into()))?;
    let shown_issuer: String = issuer.chars().take(255).collect();
    let credentials: Vec<FederatedCredential> = state
        .meta
        .list_federated_credentials(&app.id)
        .await
        .map_err(internal)?
        .into_iter()
        .filter(|f| f.issuer == issuer)
        .collect();
    if credentials.is_empty() {
        return Err(AssertionError::UnknownIssuer {
            issuer: shown_issuer,
        });
    }
    let raw = state
        .federation
        .verify(&issuer, token)
        .await
        .map_err(AssertionError::Federation)?;
    let claims: Claims = serde_json::from_value(raw).map_err(|_| {
        AssertionError::Malformed("its payload is not a JSON object of claims".into())
    })?;
    if claims.iss.as_deref() != Some(issuer.as_str()) {
        return Err(AssertionError::Malformed("its issuer changed".into()));
    }
    check_time(&claims, state.clock.unix_now())?;
    let subject = claims.sub.clone().unwrap_or_default();
    let audiences = claims.audiences();
    let by_subject: Vec<&FederatedCredential> = credentials
        .iter()
        .filter(|f| f.subject == subject)
        .collect();
    if by_subject.is_empty() {
        return Err(AssertionError::NoMatchingSubject {
            issuer: shown_issuer,
            subject: subject.chars().take(255).collect(),
            audience: audiences.join(","),
        });
    }
    by_subject
        .into_iter()
        .find(|f| f.audiences.iter().any(|a| audiences.contains(a)))
        .map(|f| Proof::Federated(f.clone()))
        .ok_or_else(|| AssertionError::AudienceMismatch {
            audience: audiences.join(",").chars().take(255).collect(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_audiences() {
        let e = Endpoint {
            base: "https://localhost:5000",
            raw_tenant: "acrylic.local",
            tenant_id: "11111111-2222-3333-4444-555555555555",
        };
        assert!(e.matches("https://localhost:5000/acrylic.local/oauth2/v2.0/token"));
        assert!(e.matches("https://LOCALHOST:5000/acrylic.local/oauth2/v2.0/token/"));
        assert!(
            e.matches("https://localhost:5000/11111111-2222-3333-4444-555555555555/oauth2/token")
        );
        assert!(!e.matches("https://localhost:5000/other/oauth2/v2.0/token"));
        assert!(!e.matches("https://evil:5000/acrylic.local/oauth2/v2.0/token"));
        assert_eq!(
            e.expected(),
            "https://localhost:5000/acrylic.local/oauth2/v2.0/token"
        );
    }

    #[test]
    fn malformed_assertions_are_named() {
        assert!(matches!(split("abc"), Err(AssertionError::Malformed(_))));
        assert!(matches!(split("a.b.c"), Err(AssertionError::Malformed(_))));
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let claims = URL_SAFE_NO_PAD.encode(br#"{"iss":"x","aud":["a","b"]}"#);
        let token = format!("{header}.{claims}.");
        let jwt = split(&token).map_err(|e| e.to_string());
        let jwt = jwt
            .as_ref()
            .map(|j| (j.header.alg.as_str(), j.claims.audiences()));
        assert_eq!(jwt, Ok(("none", vec!["a".to_owned(), "b".to_owned()])));
    }

    #[test]
    fn fractional_times_are_read() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"PS256"}"#);
        let claims = URL_SAFE_NO_PAD.encode(br#"{"exp":1800000000.75,"nbf":17e8,"iat":1.5}"#);
        let token = format!("{header}.{claims}.");
        let jwt = split(&token).map_err(|e| e.to_string());
        let times = jwt.as_ref().map(|j| (j.claims.exp, j.claims.nbf));
        assert_eq!(times, Ok((Some(1_800_000_000), Some(1_700_000_000))));
    }

    #[test]
    fn replay_keys_separate_clients() {
        assert_eq!(replay_key("A", "j"), replay_key("a", "j"));
        assert_ne!(replay_key("a", "j"), replay_key("b", "j"));
        assert_ne!(replay_key("a", "j1"), replay_key("a", "j2"));
    }
}
