//! Parsing `/oauth2/token` requests, in every shape real clients send
//! (spec/clients.md "/oauth2/token — every shape must work"):
//! - GET with Basic, `service`, repeated `scope`, and docker's `account`,
//!   `client_id`, `offline_token` (acr-auth.md §3.2);
//! - POST `grant_type=password` with `username`/`password` (containerd:
//!   several space-separated scopes in one `scope` field; §3.3), or with
//!   no credentials at all (anonymous, §3.4);
//! - POST `grant_type=refresh_token` with `refresh_token` (docker's
//!   identity token, azure-containerregistry with `?api-version=…`; §3.1).

use axum::http::{HeaderMap, Method};

use super::authn::{AuthError, Credential, basic_credentials};
use super::error::TokenFailure;

/// A parsed token request. Secrets live only in `credential`.
#[derive(Debug)]
pub struct TokenRequest {
    pub service: Option<String>,
    /// Every scope, already split on spaces, in request order.
    pub scopes: Vec<String>,
    pub credential: Credential,
    /// `offline_token=true` (docker) or `access_type=offline` (OAuth form).
    pub offline: bool,
    /// `grant_type=refresh_token` (as opposed to a null-GUID password login).
    pub refresh_grant: bool,
}

/// Parses the query (and, for POST, the form body; form fields win over
/// query fields of the same name, and `scope` values from both count).
pub fn parse(
    method: &Method,
    headers: &HeaderMap,
    query: &str,
    body: &[u8],
) -> Result<TokenRequest, TokenFailure> {
    let mut params: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|_| TokenFailure::bad_request("the query string is not valid URL encoding"))?;
    if *method == Method::POST {
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| {
            TokenFailure::bad_request(
                "the body is not a valid application/x-www-form-urlencoded form",
            )
        })?;
        params.extend(form);
    }
    let last = |name: &str| {
        params
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let scopes = params
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' ').filter(|s| !s.is_empty()).map(str::to_owned))
        .collect();
    let offline = last("offline_token").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || last("access_type").is_some_and(|v| v == "offline");
    let basic = || -> Result<Credential, TokenFailure> {
        match basic_credentials(headers) {
            Ok(Some((u, p))) => Ok(Credential::from_pair(u, p)),
            Ok(None) => Ok(Credential::None),
            Err(AuthError::MalformedBasic) => Err(TokenFailure::bad_request(
                "malformed Basic authorization header",
            )),
            Err(_) => Err(TokenFailure::bad_request("invalid authorization header")),
        }
    };

    let refresh_grant =
        *method == Method::POST && last("grant_type").as_deref() == Some("refresh_token");
    let credential = if *method == Method::GET {
        basic()?
    } else {
        match last("grant_type").as_deref() {
            Some("refresh_token") => match last("refresh_token") {
                Some(t) => Credential::RefreshToken(t),
                None => Credential::None,
            },
            // `password`, or no grant type: form credentials, else Basic.
            // azure-containerregistry's anonymous shape is `password` with
            // no username, no password and an empty `refresh_token`.
            Some("password") | None => match (last("username"), last("password")) {
                (None, None) => basic()?,
                (u, p) => Credential::from_pair(u.unwrap_or_default(), p.unwrap_or_default()),
            },
            Some(other) => return Err(TokenFailure::unsupported_grant(other)),
        }
    };
    Ok(TokenRequest {
        service: last("service"),
        scopes,
        credential,
        offline,
        refresh_grant,
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use axum::http::header::AUTHORIZATION;

    use super::*;

    fn basic(user: &str, pass: &str) -> HeaderMap {
        use base64::Engine as _;
        let mut h = HeaderMap::new();
        let v = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {v}")).expect("header"),
        );
        h
    }

    #[test]
    fn docker_get_with_basic_and_repeated_scopes() {
        let r = parse(
            &Method::GET,
            &basic("myreg", "pw:with:colons"),
            "account=myreg&client_id=docker&offline_token=true&service=myreg.test&scope=repository%3Aa%3Apull&scope=repository:b:pull,push",
            b"",
        )
        .expect("parse");
        assert_eq!(r.service.as_deref(), Some("myreg.test"));
        assert_eq!(
            r.scopes,
            vec!["repository:a:pull", "repository:b:pull,push"]
        );
        assert!(r.offline);
        assert!(
            matches!(r.credential, Credential::Password { ref username, ref password } if username == "myreg" && password == "pw:with:colons")
        );
    }

    #[test]
    fn containerd_post_password_with_space_separated_scopes() {
        let r = parse(
            &Method::POST,
            &HeaderMap::new(),
            "",
            b"grant_type=password&username=myreg&password=p%2Bw&client_id=containerd-client&service=s&scope=repository%3Ax%3Apull+repository%3Ax%3Apull%2Cpush",
        )
        .expect("parse");
        assert_eq!(
            r.scopes,
            vec!["repository:x:pull", "repository:x:pull,push"]
        );
        assert!(!r.offline);
        assert!(
            matches!(r.credential, Credential::Password { ref password, .. } if password == "p+w")
        );
    }

    #[test]
    fn refresh_token_grants_and_null_guid() {
        let r = parse(
            &Method::POST,
            &HeaderMap::new(),
            "api-version=2021-07-01",
            b"grant_type=refresh_token&service=s&scope=registry%3Acatalog%3A*&refresh_token=abc.def.ghi",
        )
        .expect("parse");
        assert!(matches!(r.credential, Credential::RefreshToken(ref t) if t == "abc.def.ghi"));
        assert_eq!(r.scopes, vec!["registry:catalog:*"]);
        let g = parse(
            &Method::GET,
            &basic(crate::token::authn::NULL_GUID, "rt"),
            "service=s",
            b"",
        )
        .expect("parse");
        assert!(matches!(g.credential, Credential::RefreshToken(ref t) if t == "rt"));
    }

    #[test]
    fn anonymous_shapes() {
        let r = parse(
            &Method::POST,
            &HeaderMap::new(),
            "api-version=2021-07-01",
            b"service=s&scope=registry%3Acatalog%3A%2A&grant_type=password&refresh_token=",
        )
        .expect("parse");
        assert!(matches!(r.credential, Credential::None));
        let g = parse(&Method::GET, &HeaderMap::new(), "service=s", b"").expect("parse");
        assert!(matches!(g.credential, Credential::None));
        assert!(g.scopes.is_empty());
    }

    #[test]
    fn refusals() {
        assert!(
            parse(
                &Method::POST,
                &HeaderMap::new(),
                "",
                b"grant_type=client_credentials"
            )
            .is_err()
        );
        let mut h = HeaderMap::new();
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Basic !!!notbase64"),
        );
        assert!(parse(&Method::GET, &h, "", b"").is_err());
        let mut h = HeaderMap::new();
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Basic bm9jb2xvbg=="),
        );
        assert!(parse(&Method::GET, &h, "", b"").is_err(), "no colon");
    }
}
