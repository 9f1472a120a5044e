//! The `/acr/v1/` route table: method + path + query → [`AcrRoute`], parsed
//! once (acr-auth.md §4.3; scopes from §1.2):
//!
//! | method | path (after `/acr/v1/`)          | route              | needs                    |
//! |--------|----------------------------------|--------------------|--------------------------|
//! | GET    | `_catalog[?n=&last=]`            | `Catalog`          | `registry:catalog:*`     |
//! | GET    | `<name>`                         | `GetRepository`    | `metadata_read`          |
//! | PATCH  | `<name>`                         | `UpdateRepository` | `metadata_write`         |
//! | DELETE | `<name>`                         | `DeleteRepository` | `delete`                 |
//! | GET    | `<name>/_tags[?n=&last=&orderby=&digest=]` | `ListTags` | `metadata_read`       |
//! | GET    | `<name>/_tags/<tag>`             | `GetTag`           | `metadata_read`          |
//! | PATCH  | `<name>/_tags/<tag>`             | `UpdateTag`        | `metadata_write`         |
//! | DELETE | `<name>/_tags/<tag>`             | `DeleteTag`        | `delete` (see below)     |
//! | GET    | `<name>/_manifests[?n=&last=&orderby=]` | `ListManifests` | `metadata_read`      |
//! | GET    | `<name>/_manifests/<digest>`     | `GetManifest`      | `metadata_read`          |
//! | PATCH  | `<name>/_manifests/<digest>`     | `UpdateManifest`   | `metadata_write`         |
//!
//! Untag needs `delete`: that is what az CLI's `acr repository untag` asks
//! the token service for and what ACR's challenge names (§1.2). The docs'
//! listing of untag under `metadata/write` (§6.3's ambiguity) is not
//! followed: a token with only `metadata_write` is challenged for `delete`.
//!
//! The path is percent-decoded once before matching, as `/v2/` does (the
//! grammar both share, `dataplane/path.rs`), so
//! azure-containerregistry's `team%2Fapp` and az CLI's unencoded
//! `team/app` are the same name. `_catalog`, `_tags` and `_manifests`
//! cannot be name components (the OCI name grammar starts every component
//! with a letter or digit), so the first `_`-segment ends the name. Other
//! `_`-segments (`_deleted`, soft delete) are not served: 404.

use acrylic_authz::RepoAction;
use acrylic_model::{Digest, RepositoryName, Tag};
use acrylic_registry::{ListOrder, MetadataQuery, PageRequest};
use axum::http::Method;

use crate::dataplane::path::{self, PathError, Query, digest, repo};
use crate::gate::Need;

/// A parsed `/acr/v1/` request, named after ACR's REST operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcrRoute {
    Catalog {
        page: PageRequest,
    },
    GetRepository {
        name: RepositoryName,
    },
    UpdateRepository {
        name: RepositoryName,
    },
    DeleteRepository {
        name: RepositoryName,
    },
    ListTags {
        name: RepositoryName,
        query: MetadataQuery,
    },
    GetTag {
        name: RepositoryName,
        tag: Tag,
    },
    UpdateTag {
        name: RepositoryName,
        tag: Tag,
    },
    DeleteTag {
        name: RepositoryName,
        tag: Tag,
    },
    ListManifests {
        name: RepositoryName,
        query: MetadataQuery,
    },
    GetManifest {
        name: RepositoryName,
        digest: Digest,
    },
    UpdateManifest {
        name: RepositoryName,
        digest: Digest,
    },
}

/// Why a request could not be parsed; each maps to an ACR error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// Bad repository name or path trick: 400 NAME_INVALID.
    NameInvalid(String),
    /// Bad digest in the path or the `digest` filter: 400 DIGEST_INVALID.
    DigestInvalid(String),
    /// Not a valid tag: no such tag, 404 TAG_UNKNOWN.
    TagUnknown(String),
    /// `n` is not a number: 400 PAGINATION_NUMBER_INVALID.
    PaginationInvalid(String),
    /// `orderby` is neither `timedesc` nor `timeasc`: 400.
    OrderByInvalid(String),
    /// Not an endpoint of this API: 404.
    NotFound,
    /// An endpoint, but not with this method: 405 UNSUPPORTED.
    MethodNotAllowed,
}

impl From<PathError> for RouteError {
    fn from(e: PathError) -> Self {
        match e {
            PathError::Name(m) => RouteError::NameInvalid(m),
            PathError::Digest(m) => RouteError::DigestInvalid(m),
            PathError::Pagination(m) => RouteError::PaginationInvalid(m),
        }
    }
}

/// The path's shape, before the method is considered.
enum Shape<'a> {
    Catalog,
    Repository(&'a str),
    Tags(&'a str),
    Tag(&'a str, &'a str),
    Manifests(&'a str),
    Manifest(&'a str, &'a str),
}

impl AcrRoute {
    /// Parses a request. `path` is the raw (percent-encoded) URI path;
    /// `query` the raw query string.
    pub fn parse(method: &Method, path: &str, query: Option<&str>) -> Result<AcrRoute, RouteError> {
        let decoded = path::decode(path)?;
        let rest = decoded
            .strip_prefix("/acr/v1/")
            .ok_or(RouteError::NotFound)?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let query = Query::parse(query)?;
        let tag = |t: &str| Tag::parse(t).map_err(|e| RouteError::TagUnknown(e.to_string()));

        use AcrRoute as R;
        let m = method;
        let route = match shape(rest)? {
            Shape::Catalog if m == Method::GET => R::Catalog {
                page: query.page()?,
            },
            Shape::Repository(n) => {
                let name = repo(n)?;
                match *m {
                    Method::GET => R::GetRepository { name },
                    Method::PATCH => R::UpdateRepository { name },
                    Method::DELETE => R::DeleteRepository { name },
                    _ => return Err(RouteError::MethodNotAllowed),
                }
            }
            Shape::Tags(n) if m == Method::GET => R::ListTags {
                name: repo(n)?,
                query: MetadataQuery {
                    page: query.page()?,
                    order: order(&query)?,
                    digest: query
                        .get("digest")
                        .filter(|d| !d.is_empty())
                        .map(digest)
                        .transpose()?,
                },
            },
            Shape::Tag(n, t) => {
                let (name, tag) = (repo(n)?, tag(t)?);
                match *m {
                    Method::GET => R::GetTag { name, tag },
                    Method::PATCH => R::UpdateTag { name, tag },
                    Method::DELETE => R::DeleteTag { name, tag },
                    _ => return Err(RouteError::MethodNotAllowed),
                }
            }
            Shape::Manifests(n) if m == Method::GET => R::ListManifests {
                name: repo(n)?,
                query: MetadataQuery {
                    page: query.page()?,
                    order: order(&query)?,
                    digest: None,
                },
            },
            Shape::Manifest(n, d) => {
                let (name, digest) = (repo(n)?, digest(d)?);
                match *m {
                    Method::GET => R::GetManifest { name, digest },
                    Method::PATCH => R::UpdateManifest { name, digest },
                    _ => return Err(RouteError::MethodNotAllowed),
                }
            }
            Shape::Catalog | Shape::Tags(_) | Shape::Manifests(_) => {
                return Err(RouteError::MethodNotAllowed);
            }
        };
        Ok(route)
    }

    /// What the gate must establish before this route runs (acr-auth.md
    /// §1.2). Exhaustive on purpose: a new route does not compile until its
    /// access is decided.
    pub fn need(&self) -> Need {
        let on = |name: &RepositoryName, action: RepoAction| Need::Repository {
            name: name.clone(),
            action,
        };
        match self {
            AcrRoute::Catalog { .. } => Need::Catalog,
            AcrRoute::GetRepository { name }
            | AcrRoute::ListTags { name, .. }
            | AcrRoute::GetTag { name, .. }
            | AcrRoute::ListManifests { name, .. }
            | AcrRoute::GetManifest { name, .. } => on(name, RepoAction::MetadataRead),
            AcrRoute::UpdateRepository { name }
            | AcrRoute::UpdateTag { name, .. }
            | AcrRoute::UpdateManifest { name, .. } => on(name, RepoAction::MetadataWrite),
            AcrRoute::DeleteRepository { name } | AcrRoute::DeleteTag { name, .. } => {
                on(name, RepoAction::Delete)
            }
        }
    }
}

/// Splits the decoded path after `/acr/v1/` into a shape.
fn shape(rest: &str) -> Result<Shape<'_>, RouteError> {
    if rest == "_catalog" {
        return Ok(Shape::Catalog);
    }
    if rest.is_empty() {
        return Err(RouteError::NotFound);
    }
    let segs = path::segments(rest)?;
    let Some(at) = segs.iter().position(|s| s.starts_with('_')) else {
        return Ok(Shape::Repository(rest));
    };
    if at == 0 {
        return Err(RouteError::NotFound);
    }
    // The byte length of the name: the segments before `at`, with slashes.
    let name_len = segs[..at].iter().map(|s| s.len() + 1).sum::<usize>() - 1;
    let name = &rest[..name_len];
    let shape = match (segs[at], &segs[at + 1..]) {
        ("_tags", []) => Shape::Tags(name),
        ("_tags", [t]) => Shape::Tag(name, t),
        ("_manifests", []) => Shape::Manifests(name),
        ("_manifests", [d]) => Shape::Manifest(name, d),
        _ => return Err(RouteError::NotFound),
    };
    Ok(shape)
}

/// `orderby`: `timedesc`, `timeasc`, or absent/empty (ACR's own `Link`s
/// carry `orderby=`) for the default lexical order.
fn order(query: &Query) -> Result<ListOrder, RouteError> {
    match query.get("orderby").map(str::to_ascii_lowercase).as_deref() {
        None | Some("") => Ok(ListOrder::Name),
        Some("timedesc") => Ok(ListOrder::TimeDesc),
        Some("timeasc") => Ok(ListOrder::TimeAsc),
        Some(other) => Err(RouteError::OrderByInvalid(format!(
            "orderby={other:?} is not supported: use timedesc or timeasc"
        ))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn name(s: &str) -> RepositoryName {
        RepositoryName::parse(s).unwrap()
    }

    fn parse(m: Method, p: &str, q: Option<&str>) -> Result<AcrRoute, RouteError> {
        AcrRoute::parse(&m, p, q)
    }

    #[test]
    fn route_table() {
        let d = format!("sha256:{}", "a".repeat(64));
        let dig = Digest::parse(&d).unwrap();
        let t = |s: &str| Tag::parse(s).unwrap();
        let page = |n, last: Option<&str>| PageRequest {
            n,
            last: last.map(str::to_owned),
        };
        let cases: Vec<(Method, String, Option<String>, AcrRoute)> = vec![
            (
                Method::GET,
                "/acr/v1/_catalog".into(),
                Some("n=2&last=a".into()),
                AcrRoute::Catalog {
                    page: page(Some(2), Some("a")),
                },
            ),
            (
                Method::GET,
                "/acr/v1/team%2Fapp".into(),
                None,
                AcrRoute::GetRepository {
                    name: name("team/app"),
                },
            ),
            (
                Method::PATCH,
                "/acr/v1/team/app".into(),
                None,
                AcrRoute::UpdateRepository {
                    name: name("team/app"),
                },
            ),
            (
                Method::DELETE,
                "/acr/v1/hello-world/".into(),
                None,
                AcrRoute::DeleteRepository {
                    name: name("hello-world"),
                },
            ),
            // az CLI: unencoded slash; azure-containerregistry: %2F.
            (
                Method::GET,
                "/acr/v1/team/app/_tags".into(),
                Some("n=100".into()),
                AcrRoute::ListTags {
                    name: name("team/app"),
                    query: MetadataQuery {
                        page: page(Some(100), None),
                        ..MetadataQuery::default()
                    },
                },
            ),
            (
                Method::GET,
                "/acr/v1/team%2Fapp/_tags".into(),
                Some(format!(
                    "last=v1&n=2&orderby=timedesc&digest={}",
                    d.replace(':', "%3A")
                )),
                AcrRoute::ListTags {
                    name: name("team/app"),
                    query: MetadataQuery {
                        page: page(Some(2), Some("v1")),
                        order: ListOrder::TimeDesc,
                        digest: Some(dig.clone()),
                    },
                },
            ),
            (
                Method::GET,
                "/acr/v1/a/_tags".into(),
                Some("orderby=&digest=".into()),
                AcrRoute::ListTags {
                    name: name("a"),
                    query: MetadataQuery::default(),
                },
            ),
            (
                Method::GET,
                "/acr/v1/library%2Fhello-world/_tags/test1".into(),
                None,
                AcrRoute::GetTag {
                    name: name("library/hello-world"),
                    tag: t("test1"),
                },
            ),
            (
                Method::PATCH,
                "/acr/v1/a/_tags/v1".into(),
                None,
                AcrRoute::UpdateTag {
                    name: name("a"),
                    tag: t("v1"),
                },
            ),
            (
                Method::DELETE,
                "/acr/v1/a/b/_tags/v1".into(),
                None,
                AcrRoute::DeleteTag {
                    name: name("a/b"),
                    tag: t("v1"),
                },
            ),
            (
                Method::GET,
                "/acr/v1/a/_manifests".into(),
                Some("orderby=TimeAsc".into()),
                AcrRoute::ListManifests {
                    name: name("a"),
                    query: MetadataQuery {
                        order: ListOrder::TimeAsc,
                        ..MetadataQuery::default()
                    },
                },
            ),
            (
                Method::GET,
                format!("/acr/v1/a/_manifests/{d}"),
                None,
                AcrRoute::GetManifest {
                    name: name("a"),
                    digest: dig.clone(),
                },
            ),
            (
                Method::PATCH,
                format!("/acr/v1/a/_manifests/{}", d.replace(':', "%3A")),
                None,
                AcrRoute::UpdateManifest {
                    name: name("a"),
                    digest: dig.clone(),
                },
            ),
            // Names may hold route words of `/v2/`; only `_`-segments split.
            (
                Method::GET,
                "/acr/v1/tags/manifests/_tags".into(),
                None,
                AcrRoute::ListTags {
                    name: name("tags/manifests"),
                    query: MetadataQuery::default(),
                },
            ),
        ];
        for (m, p, q, want) in cases {
            assert_eq!(parse(m.clone(), &p, q.as_deref()), Ok(want), "{m} {p}");
        }
    }

    #[test]
    fn refusals() {
        type Case = (
            Method,
            &'static str,
            Option<&'static str>,
            fn(&RouteError) -> bool,
        );
        let cases: Vec<Case> = vec![
            (Method::GET, "/acr/v1/../etc", None, |e| {
                matches!(e, RouteError::NameInvalid(_))
            }),
            (Method::GET, "/acr/v1/a/%2E%2E/b/_tags", None, |e| {
                matches!(e, RouteError::NameInvalid(_))
            }),
            (Method::GET, "/acr/v1/a%252Fb", None, |e| {
                matches!(e, RouteError::NameInvalid(_))
            }),
            (Method::GET, "/acr/v1/Team", None, |e| {
                matches!(e, RouteError::NameInvalid(_))
            }),
            (Method::GET, "/acr/v1/a//b/_tags", None, |e| {
                matches!(e, RouteError::NameInvalid(_))
            }),
            (Method::GET, "/acr/v1/a/_tags/-bad", None, |e| {
                matches!(e, RouteError::TagUnknown(_))
            }),
            (Method::GET, "/acr/v1/a/_manifests/sha256:xyz", None, |e| {
                matches!(e, RouteError::DigestInvalid(_))
            }),
            (Method::GET, "/acr/v1/a/_tags", Some("digest=nope"), |e| {
                matches!(e, RouteError::DigestInvalid(_))
            }),
            (Method::GET, "/acr/v1/a/_tags", Some("n=x"), |e| {
                matches!(e, RouteError::PaginationInvalid(_))
            }),
            (
                Method::GET,
                "/acr/v1/a/_manifests",
                Some("orderby=size"),
                |e| matches!(e, RouteError::OrderByInvalid(_)),
            ),
            (Method::GET, "/acr/v1/", None, |e| {
                *e == RouteError::NotFound
            }),
            (Method::GET, "/acr/v1", None, |e| *e == RouteError::NotFound),
            (Method::GET, "/acr/v2/a", None, |e| {
                *e == RouteError::NotFound
            }),
            (Method::GET, "/acr/v1/_deleted/_catalog", None, |e| {
                *e == RouteError::NotFound
            }),
            (Method::GET, "/acr/v1/a/_tags/v1/x", None, |e| {
                *e == RouteError::NotFound
            }),
            (Method::GET, "/acr/v1/a/_other", None, |e| {
                *e == RouteError::NotFound
            }),
            (Method::POST, "/acr/v1/_catalog", None, |e| {
                *e == RouteError::MethodNotAllowed
            }),
            (Method::PUT, "/acr/v1/a", None, |e| {
                *e == RouteError::MethodNotAllowed
            }),
            (Method::DELETE, "/acr/v1/a/_tags", None, |e| {
                *e == RouteError::MethodNotAllowed
            }),
            (
                Method::DELETE,
                "/acr/v1/a/_manifests/sha256:0000000000000000000000000000000000000000000000000000000000000000",
                None,
                |e| *e == RouteError::MethodNotAllowed,
            ),
        ];
        for (m, p, q, ok) in cases {
            let got = parse(m.clone(), p, q);
            assert!(got.as_ref().is_err_and(ok), "{m} {p} {q:?}: {got:?}");
        }
        let long = format!("/acr/v1/{}", "a/".repeat(1100));
        assert!(matches!(
            parse(Method::GET, &long, None),
            Err(RouteError::NameInvalid(_))
        ));
    }

    #[test]
    fn needs_follow_the_challenge_table() {
        let need = |m: Method, p: &str| parse(m, p, None).unwrap().need();
        let repo = |action| Need::Repository {
            name: name("team/app"),
            action,
        };
        assert_eq!(need(Method::GET, "/acr/v1/_catalog"), Need::Catalog);
        for p in [
            "/acr/v1/team/app",
            "/acr/v1/team/app/_tags",
            "/acr/v1/team/app/_tags/v1",
            "/acr/v1/team/app/_manifests",
        ] {
            assert_eq!(need(Method::GET, p), repo(RepoAction::MetadataRead), "{p}");
        }
        for p in ["/acr/v1/team/app", "/acr/v1/team/app/_tags/v1"] {
            assert_eq!(
                need(Method::PATCH, p),
                repo(RepoAction::MetadataWrite),
                "{p}"
            );
            assert_eq!(need(Method::DELETE, p), repo(RepoAction::Delete), "{p}");
        }
    }
}
