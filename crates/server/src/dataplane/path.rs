//! The path and query grammar `/v2/` and `/acr/v1/` share: the raw path is
//! length-checked and percent-decoded exactly once, so `team%2Fapp`
//! (azure-containerregistry) is `team/app` while `%252F` stays `%2F` and is
//! refused; `.`/`..` segments are refused before any name parser, let alone
//! storage, sees them; repository names and digests are validated by their
//! `acrylic_model` types. Each surface's route table (`oci/route.rs`,
//! `acr_v1/route.rs`) maps [`PathError`] into its own route error.

use std::borrow::Cow;

use acrylic_model::{Digest, RepositoryName};
use acrylic_registry::PageRequest;

/// Longest raw path accepted (a 255-character name plus the longest `/v2/`
/// suffix, `/referrers/sha512:<128 hex>`, with room for percent-encoding).
const MAX_PATH: usize = 2048;

/// Why a path or query could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathError {
    /// Bad repository name, path trick, over-long or non-UTF-8 path or
    /// query: 400 NAME_INVALID.
    Name(String),
    /// Bad digest: 400 DIGEST_INVALID.
    Digest(String),
    /// `n` is not a number: 400 PAGINATION_NUMBER_INVALID.
    Pagination(String),
}

/// The raw (percent-encoded) URI path, decoded once.
pub(crate) fn decode(path: &str) -> Result<Cow<'_, str>, PathError> {
    if path.len() > MAX_PATH {
        return Err(PathError::Name("path too long".into()));
    }
    percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| PathError::Name("path is not UTF-8".into()))
}

/// The `/`-separated segments of a decoded path, refusing path tricks.
pub(crate) fn segments(rest: &str) -> Result<Vec<&str>, PathError> {
    let segs: Vec<&str> = rest.split('/').collect();
    if segs
        .iter()
        .any(|s| *s == "." || *s == ".." || s.contains(['\\', '\0']))
    {
        return Err(PathError::Name(
            "path segments '.' and '..' are not allowed".into(),
        ));
    }
    Ok(segs)
}

/// A repository name from a decoded path.
pub(crate) fn repo(s: &str) -> Result<RepositoryName, PathError> {
    RepositoryName::parse(s).map_err(|e| PathError::Name(e.to_string()))
}

pub(crate) fn digest(s: &str) -> Result<Digest, PathError> {
    Digest::parse(s).map_err(|e| PathError::Digest(e.to_string()))
}

/// Query parameters, percent-decoded; the first value of a repeated key
/// wins. `+` stays `+` (RFC 3986 queries, not HTML forms): no OCI value
/// holds a space, but media types in `artifactType` do hold `+`.
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Result<Query, PathError> {
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| PathError::Name("query string is not UTF-8".into()))
        };
        let mut pairs = Vec::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            pairs.push((decode(k)?, decode(v)?));
        }
        Ok(Query(pairs))
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `n` and `last` (dist-spec end-8b; ACR's listings page the same way).
    pub(crate) fn page(&self) -> Result<PageRequest, PathError> {
        let n = match self.get("n") {
            None | Some("") => None,
            Some(v) => Some(
                v.parse::<u32>()
                    .map_err(|_| PathError::Pagination(format!("n={v:?} is not a number")))?,
            ),
        };
        let last = self
            .get("last")
            .filter(|l| !l.is_empty())
            .map(str::to_owned);
        Ok(PageRequest { n, last })
    }
}
