//! The `/v2/` route table: method + path + query → [`OciRoute`], parsed once.
//!
//! Repository names contain `/`, so axum path patterns cannot split them;
//! every `/v2/…` request comes here and is matched from the END of the path
//! (as distribution's greedy name regex does), because a name may itself
//! contain `manifests`, `blobs` or `tags` as a component:
//!
//! | method          | path (after `/v2/`)                  | route              | dist-spec  |
//! |-----------------|--------------------------------------|--------------------|------------|
//! | GET, HEAD       | (empty)                              | `ApiVersion`       | end-1      |
//! | GET / HEAD      | `<name>/manifests/<reference>`       | `GetManifest` / `HeadManifest` | end-3 |
//! | PUT             | `<name>/manifests/<reference>`       | `PutManifest`      | end-7      |
//! | DELETE          | `<name>/manifests/<reference>`       | `DeleteManifest`   | end-9      |
//! | GET / HEAD      | `<name>/blobs/<digest>`              | `GetBlob` / `HeadBlob` | end-2  |
//! | DELETE          | `<name>/blobs/<digest>`              | `DeleteBlob`       | end-10     |
//! | POST            | `<name>/blobs/uploads/`              | `StartUpload`      | end-4a     |
//! | POST `?digest=` | `<name>/blobs/uploads/`              | `PushBlob`         | end-4b     |
//! | POST `?mount=`  | `<name>/blobs/uploads/`              | `MountBlob`        | end-11     |
//! | GET             | `<name>/blobs/uploads/<id>`          | `GetUpload`        | end-13     |
//! | PATCH           | `<name>/blobs/uploads/<id>`          | `PatchUpload`      | end-5      |
//! | PUT `?digest=`  | `<name>/blobs/uploads/<id>`          | `CompleteUpload`   | end-6      |
//! | DELETE          | `<name>/blobs/uploads/<id>`          | `CancelUpload`     | (distribution) |
//! | GET             | `<name>/tags/list[?n=&last=]`        | `ListTags`         | end-8a/8b  |
//! | GET             | `<name>/referrers/<digest>[?artifactType=]` | `Referrers` | end-12a/12b |
//! | GET             | `_catalog[?n=&last=]`                | `Catalog`          | (distribution) |
//!
//! The path is percent-decoded exactly once before matching, so
//! `team%2Fapp` (azure-containerregistry) is `team/app`, while `%252F`
//! stays `%2F` and is refused. Names are validated by `RepositoryName`
//! (the dist-spec grammar, at most 255 characters); `.`/`..` segments and
//! over-long paths are NAME_INVALID before anything touches storage. That
//! grammar is shared with `/acr/v1/` (`dataplane/path.rs`).

use acrylic_authz::RepoAction;
use acrylic_model::{Digest, Reference, RepositoryName, UploadId};
use acrylic_registry::PageRequest;
use axum::http::Method;

use crate::dataplane::path::{self, PathError, Query, digest, repo};
use crate::gate::Need;

/// A parsed `/v2/` request, named with the dist-spec's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OciRoute {
    ApiVersion,
    GetManifest {
        name: RepositoryName,
        reference: Reference,
    },
    HeadManifest {
        name: RepositoryName,
        reference: Reference,
    },
    PutManifest {
        name: RepositoryName,
        reference: Reference,
    },
    DeleteManifest {
        name: RepositoryName,
        reference: Reference,
    },
    GetBlob {
        name: RepositoryName,
        digest: Digest,
    },
    HeadBlob {
        name: RepositoryName,
        digest: Digest,
    },
    DeleteBlob {
        name: RepositoryName,
        digest: Digest,
    },
    StartUpload {
        name: RepositoryName,
    },
    PushBlob {
        name: RepositoryName,
        digest: Digest,
    },
    /// `from` is optional in dist-spec v1.1; without it we open a session.
    MountBlob {
        name: RepositoryName,
        digest: Digest,
        from: Option<RepositoryName>,
    },
    GetUpload {
        name: RepositoryName,
        id: UploadId,
    },
    PatchUpload {
        name: RepositoryName,
        id: UploadId,
    },
    CompleteUpload {
        name: RepositoryName,
        id: UploadId,
        digest: Digest,
    },
    CancelUpload {
        name: RepositoryName,
        id: UploadId,
    },
    ListTags {
        name: RepositoryName,
        page: PageRequest,
    },
    Referrers {
        name: RepositoryName,
        digest: Digest,
        artifact_type: Option<String>,
    },
    Catalog {
        page: PageRequest,
    },
}

/// Why a request could not be parsed. Each maps to an OCI error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// Bad repository name or path trick: 400 NAME_INVALID.
    NameInvalid(String),
    /// Bad digest in the path or query: 400 DIGEST_INVALID.
    DigestInvalid(String),
    /// Bad tag in a manifest PUT: 400 MANIFEST_INVALID.
    TagInvalid(String),
    /// Bad tag in a manifest GET/HEAD/DELETE: no such manifest, 404.
    ManifestUnknown(String),
    /// Not a valid upload id: no such upload, 404 BLOB_UPLOAD_UNKNOWN.
    UploadUnknown,
    /// `n` is not a number: 400 PAGINATION_NUMBER_INVALID.
    PaginationInvalid(String),
    /// Not an endpoint of the spec: 404.
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
    Base,
    Catalog,
    Manifest(&'a str, &'a str),
    Blob(&'a str, &'a str),
    Uploads(&'a str),
    Upload(&'a str, &'a str),
    Tags(&'a str),
    Referrers(&'a str, &'a str),
}

impl OciRoute {
    /// Parses a request. `path` is the raw (percent-encoded) URI path;
    /// `query` the raw query string.
    pub fn parse(method: &Method, path: &str, query: Option<&str>) -> Result<OciRoute, RouteError> {
        let decoded = path::decode(path)?;
        let rest = match decoded.strip_prefix("/v2") {
            Some("") => "",
            Some(r) => r.strip_prefix('/').ok_or(RouteError::NotFound)?,
            None => return Err(RouteError::NotFound),
        };
        let query = Query::parse(query)?;
        let shape = shape(rest)?;

        use OciRoute as R;
        let m = method;
        let get = m == Method::GET;
        let head = m == Method::HEAD;
        let route = match shape {
            Shape::Base if get || head => R::ApiVersion,
            Shape::Catalog if get => R::Catalog {
                page: query.page()?,
            },
            Shape::Manifest(n, r) => {
                let name = repo(n)?;
                if m == Method::PUT {
                    let reference = parse_reference(r, RouteError::TagInvalid)?;
                    R::PutManifest { name, reference }
                } else {
                    let reference = parse_reference(r, RouteError::ManifestUnknown)?;
                    match *m {
                        Method::GET => R::GetManifest { name, reference },
                        Method::HEAD => R::HeadManifest { name, reference },
                        Method::DELETE => R::DeleteManifest { name, reference },
                        _ => return Err(RouteError::MethodNotAllowed),
                    }
                }
            }
            Shape::Blob(n, d) => {
                let (name, digest) = (repo(n)?, digest(d)?);
                match *m {
                    Method::GET => R::GetBlob { name, digest },
                    Method::HEAD => R::HeadBlob { name, digest },
                    Method::DELETE => R::DeleteBlob { name, digest },
                    _ => return Err(RouteError::MethodNotAllowed),
                }
            }
            Shape::Uploads(n) if m == Method::POST => {
                let name = repo(n)?;
                if let Some(mount) = query.get("mount") {
                    let from = query.get("from").map(repo).transpose()?;
                    R::MountBlob {
                        name,
                        digest: digest(mount)?,
                        from,
                    }
                } else if let Some(d) = query.get("digest") {
                    R::PushBlob {
                        name,
                        digest: digest(d)?,
                    }
                } else {
                    R::StartUpload { name }
                }
            }
            Shape::Upload(n, id) => {
                let name = repo(n)?;
                let id = UploadId::parse(id).map_err(|_| RouteError::UploadUnknown)?;
                match *m {
                    Method::GET => R::GetUpload { name, id },
                    Method::PATCH => R::PatchUpload { name, id },
                    Method::PUT => {
                        let d = query.get("digest").ok_or_else(|| {
                            RouteError::DigestInvalid(
                                "the digest query parameter is required".into(),
                            )
                        })?;
                        R::CompleteUpload {
                            name,
                            id,
                            digest: digest(d)?,
                        }
                    }
                    Method::DELETE => R::CancelUpload { name, id },
                    _ => return Err(RouteError::MethodNotAllowed),
                }
            }
            Shape::Tags(n) if get => R::ListTags {
                name: repo(n)?,
                page: query.page()?,
            },
            Shape::Referrers(n, d) if get => R::Referrers {
                name: repo(n)?,
                digest: digest(d)?,
                artifact_type: query.get("artifactType").map(str::to_owned),
            },
            Shape::Base
            | Shape::Catalog
            | Shape::Uploads(_)
            | Shape::Tags(_)
            | Shape::Referrers(..) => {
                return Err(RouteError::MethodNotAllowed);
            }
        };
        Ok(route)
    }

    /// What the gate must establish before this route runs. Exhaustive on
    /// purpose: a new route does not compile until its access is decided.
    pub fn need(&self) -> Need {
        let on = |name: &RepositoryName, action: RepoAction| Need::Repository {
            name: name.clone(),
            action,
        };
        match self {
            OciRoute::ApiVersion => Need::Base,
            OciRoute::Catalog { .. } => Need::Catalog,
            OciRoute::GetManifest { name, .. }
            | OciRoute::HeadManifest { name, .. }
            | OciRoute::GetBlob { name, .. }
            | OciRoute::HeadBlob { name, .. }
            | OciRoute::ListTags { name, .. }
            | OciRoute::Referrers { name, .. } => on(name, RepoAction::Pull),
            OciRoute::PutManifest { name, .. }
            | OciRoute::StartUpload { name }
            | OciRoute::PushBlob { name, .. }
            | OciRoute::MountBlob { name, .. }
            | OciRoute::GetUpload { name, .. }
            | OciRoute::PatchUpload { name, .. }
            | OciRoute::CompleteUpload { name, .. }
            | OciRoute::CancelUpload { name, .. } => on(name, RepoAction::Push),
            OciRoute::DeleteManifest { name, .. } | OciRoute::DeleteBlob { name, .. } => {
                on(name, RepoAction::Delete)
            }
        }
    }
}

/// Splits the decoded path after `/v2/` into a shape, from the end.
fn shape(rest: &str) -> Result<Shape<'_>, RouteError> {
    if rest.is_empty() {
        return Ok(Shape::Base);
    }
    if rest == "_catalog" {
        return Ok(Shape::Catalog);
    }
    let segs = path::segments(rest)?;
    let n = segs.len();
    // The byte offset where the last `k` segments begin, minus the slash.
    let name_before = |k: usize| -> &str {
        let tail: usize = segs[n - k..].iter().map(|s| s.len() + 1).sum();
        &rest[..rest.len() - tail]
    };
    let at = |i: usize| if i <= n && i >= 1 { segs[n - i] } else { "" };
    let shape = if n >= 3 && at(2) == "tags" && at(1) == "list" {
        Shape::Tags(name_before(2))
    } else if n >= 3 && at(2) == "manifests" {
        Shape::Manifest(name_before(2), at(1))
    } else if n >= 4 && at(3) == "blobs" && at(2) == "uploads" {
        if at(1).is_empty() {
            Shape::Uploads(name_before(3))
        } else {
            Shape::Upload(name_before(3), at(1))
        }
    } else if n >= 3 && at(2) == "blobs" && at(1) == "uploads" {
        Shape::Uploads(name_before(2))
    } else if n >= 3 && at(2) == "blobs" {
        Shape::Blob(name_before(2), at(1))
    } else if n >= 3 && at(2) == "referrers" {
        Shape::Referrers(name_before(2), at(1))
    } else {
        return Err(RouteError::NotFound);
    };
    Ok(shape)
}

fn parse_reference(s: &str, tag_error: fn(String) -> RouteError) -> Result<Reference, RouteError> {
    match Reference::parse(s) {
        Ok(r) => Ok(r),
        Err(e) if s.contains(':') => Err(RouteError::DigestInvalid(e.to_string())),
        Err(e) => Err(tag_error(e.to_string())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn name(s: &str) -> RepositoryName {
        RepositoryName::parse(s).unwrap()
    }

    fn parse(m: Method, p: &str, q: Option<&str>) -> Result<OciRoute, RouteError> {
        OciRoute::parse(&m, p, q)
    }

    #[test]
    fn route_table() {
        let dig = Digest::parse(&d('a')).unwrap();
        let id = UploadId::parse("0c7a4a8e-7f7d-4a3c-9b0e-6a7c7c2f9d11").unwrap();
        let tag = |t: &str| Reference::parse(t).unwrap();
        let cases: Vec<(Method, String, Option<String>, OciRoute)> = vec![
            (Method::GET, "/v2/".into(), None, OciRoute::ApiVersion),
            (Method::HEAD, "/v2".into(), None, OciRoute::ApiVersion),
            (
                Method::GET,
                "/v2/_catalog".into(),
                Some("n=10&last=a".into()),
                OciRoute::Catalog {
                    page: PageRequest {
                        n: Some(10),
                        last: Some("a".into()),
                    },
                },
            ),
            (
                Method::GET,
                "/v2/library/hello/manifests/latest".into(),
                None,
                OciRoute::GetManifest {
                    name: name("library/hello"),
                    reference: tag("latest"),
                },
            ),
            (
                Method::HEAD,
                format!("/v2/a/manifests/{}", d('a')),
                None,
                OciRoute::HeadManifest {
                    name: name("a"),
                    reference: Reference::Digest(dig.clone()),
                },
            ),
            (
                Method::PUT,
                "/v2/a/manifests/v1".into(),
                None,
                OciRoute::PutManifest {
                    name: name("a"),
                    reference: tag("v1"),
                },
            ),
            (
                Method::DELETE,
                "/v2/a/manifests/v1".into(),
                None,
                OciRoute::DeleteManifest {
                    name: name("a"),
                    reference: tag("v1"),
                },
            ),
            // A name may contain the route keywords; matching is from the end.
            (
                Method::GET,
                "/v2/x/manifests/blobs/manifests/latest".into(),
                None,
                OciRoute::GetManifest {
                    name: name("x/manifests/blobs"),
                    reference: tag("latest"),
                },
            ),
            (
                Method::GET,
                format!("/v2/tags/list/blobs/{}", d('a')),
                None,
                OciRoute::GetBlob {
                    name: name("tags/list"),
                    digest: dig.clone(),
                },
            ),
            (
                Method::HEAD,
                format!("/v2/a/blobs/{}", d('a')),
                None,
                OciRoute::HeadBlob {
                    name: name("a"),
                    digest: dig.clone(),
                },
            ),
            (
                Method::DELETE,
                format!("/v2/a/blobs/{}", d('a')),
                None,
                OciRoute::DeleteBlob {
                    name: name("a"),
                    digest: dig.clone(),
                },
            ),
            (
                Method::POST,
                "/v2/team%2Fapp/blobs/uploads/".into(),
                None,
                OciRoute::StartUpload {
                    name: name("team/app"),
                },
            ),
            (
                Method::POST,
                "/v2/a/blobs/uploads".into(),
                None,
                OciRoute::StartUpload { name: name("a") },
            ),
            (
                Method::POST,
                "/v2/a/blobs/uploads/".into(),
                Some(format!("digest={}", d('a'))),
                OciRoute::PushBlob {
                    name: name("a"),
                    digest: dig.clone(),
                },
            ),
            (
                Method::POST,
                "/v2/a/blobs/uploads/".into(),
                Some(format!("mount={}&from=b%2Fc", d('a'))),
                OciRoute::MountBlob {
                    name: name("a"),
                    digest: dig.clone(),
                    from: Some(name("b/c")),
                },
            ),
            (
                Method::POST,
                "/v2/a/blobs/uploads/".into(),
                Some(format!("mount={}", d('a'))),
                OciRoute::MountBlob {
                    name: name("a"),
                    digest: dig.clone(),
                    from: None,
                },
            ),
            (
                Method::GET,
                format!("/v2/a/blobs/uploads/{id}"),
                None,
                OciRoute::GetUpload {
                    name: name("a"),
                    id,
                },
            ),
            (
                Method::PATCH,
                format!("/v2/a/blobs/uploads/{id}"),
                None,
                OciRoute::PatchUpload {
                    name: name("a"),
                    id,
                },
            ),
            (
                Method::PUT,
                format!("/v2/a/blobs/uploads/{id}"),
                Some(format!("digest={}", d('a').replace(':', "%3A"))),
                OciRoute::CompleteUpload {
                    name: name("a"),
                    id,
                    digest: dig.clone(),
                },
            ),
            (
                Method::DELETE,
                format!("/v2/a/blobs/uploads/{id}"),
                None,
                OciRoute::CancelUpload {
                    name: name("a"),
                    id,
                },
            ),
            (
                Method::GET,
                "/v2/a/b/tags/list".into(),
                Some("n=2".into()),
                OciRoute::ListTags {
                    name: name("a/b"),
                    page: PageRequest {
                        n: Some(2),
                        last: None,
                    },
                },
            ),
            (
                Method::GET,
                format!("/v2/a/referrers/{}", d('a')),
                Some("artifactType=application/vnd.example+json".into()),
                OciRoute::Referrers {
                    name: name("a"),
                    digest: dig.clone(),
                    artifact_type: Some("application/vnd.example+json".into()),
                },
            ),
        ];
        for (m, p, q, want) in cases {
            assert_eq!(parse(m.clone(), &p, q.as_deref()), Ok(want), "{m} {p}");
        }
    }

    #[test]
    fn refusals() {
        let long = format!("/v2/{}/tags/list", "a".repeat(256));
        type Case = (Method, String, fn(&RouteError) -> bool);
        let cases: Vec<Case> = vec![
            (Method::GET, "/v2/../etc/tags/list".into(), |e| {
                matches!(e, RouteError::NameInvalid(_))
            }),
            (Method::GET, "/v2/a/%2E%2E/b/tags/list".into(), |e| {
                matches!(e, RouteError::NameInvalid(_))
            }),
            (Method::GET, "/v2/a%252Fb/tags/list".into(), |e| {
                matches!(e, RouteError::NameInvalid(_))
            }),
            (Method::GET, "/v2/A/tags/list".into(), |e| {
                matches!(e, RouteError::NameInvalid(_))
            }),
            (Method::GET, "/v2/a//b/tags/list".into(), |e| {
                matches!(e, RouteError::NameInvalid(_))
            }),
            (Method::GET, long, |e| {
                matches!(e, RouteError::NameInvalid(_))
            }),
            (Method::GET, format!("/v2/{}", "a/".repeat(2000)), |e| {
                matches!(e, RouteError::NameInvalid(_))
            }),
            (Method::GET, "/v2/a/%FF/tags/list".into(), |e| {
                matches!(e, RouteError::NameInvalid(_))
            }),
            (Method::GET, "/v2/a/blobs/sha256:xyz".into(), |e| {
                matches!(e, RouteError::DigestInvalid(_))
            }),
            (Method::GET, "/v2/a/manifests/sha256:xyz".into(), |e| {
                matches!(e, RouteError::DigestInvalid(_))
            }),
            (Method::PUT, "/v2/a/manifests/-bad".into(), |e| {
                matches!(e, RouteError::TagInvalid(_))
            }),
            (Method::GET, "/v2/a/manifests/-bad".into(), |e| {
                matches!(e, RouteError::ManifestUnknown(_))
            }),
            (Method::GET, "/v2/a/blobs/uploads/not-a-uuid".into(), |e| {
                *e == RouteError::UploadUnknown
            }),
            (
                Method::PUT,
                "/v2/a/blobs/uploads/0c7a4a8e-7f7d-4a3c-9b0e-6a7c7c2f9d11".into(),
                |e| matches!(e, RouteError::DigestInvalid(_)),
            ),
            (Method::GET, "/v2/a".into(), |e| *e == RouteError::NotFound),
            (Method::GET, "/v3/a/tags/list".into(), |e| {
                *e == RouteError::NotFound
            }),
            (Method::GET, "/v2x/a/tags/list".into(), |e| {
                *e == RouteError::NotFound
            }),
            (Method::POST, "/v2/a/manifests/latest".into(), |e| {
                *e == RouteError::MethodNotAllowed
            }),
            (Method::POST, "/v2/a/tags/list".into(), |e| {
                *e == RouteError::MethodNotAllowed
            }),
            (Method::DELETE, "/v2/".into(), |e| {
                *e == RouteError::MethodNotAllowed
            }),
            (Method::GET, "/v2/a/blobs/uploads/".into(), |e| {
                *e == RouteError::MethodNotAllowed
            }),
        ];
        for (m, p, ok) in cases {
            let got = parse(m.clone(), &p, None);
            assert!(got.as_ref().is_err_and(ok), "{m} {p}: {got:?}");
        }
        assert!(matches!(
            parse(Method::GET, "/v2/a/tags/list", Some("n=abc")),
            Err(RouteError::PaginationInvalid(_))
        ));
        assert!(matches!(
            parse(
                Method::POST,
                "/v2/a/blobs/uploads/",
                Some("mount=sha256:1&from=b")
            ),
            Err(RouteError::DigestInvalid(_))
        ));
    }

    #[test]
    fn needs() {
        let pull = |n: &str| Need::Repository {
            name: name(n),
            action: RepoAction::Pull,
        };
        assert_eq!(parse(Method::GET, "/v2/", None).unwrap().need(), Need::Base);
        assert_eq!(
            parse(Method::GET, "/v2/_catalog", None).unwrap().need(),
            Need::Catalog
        );
        assert_eq!(
            parse(Method::GET, "/v2/a/tags/list", None).unwrap().need(),
            pull("a")
        );
        assert_eq!(
            parse(Method::POST, "/v2/a/blobs/uploads/", None)
                .unwrap()
                .need(),
            Need::Repository {
                name: name("a"),
                action: RepoAction::Push
            }
        );
        assert_eq!(
            parse(Method::DELETE, "/v2/a/manifests/x", None)
                .unwrap()
                .need(),
            Need::Repository {
                name: name("a"),
                action: RepoAction::Delete
            }
        );
    }
}
