//! Pulling and deleting blobs (dist-spec end-2, end-10). A blob is found
//! only through its link in this repository, never by digest alone: that is
//! repository isolation.

use std::ops::Range;

use acrylic_authz::{Permit, RepoAction};
use acrylic_model::Digest;
use acrylic_store::ByteStream;

use crate::{RegistryError, Repository, Result};

/// A `Range: bytes=…` request (RFC 9110 §14.1.2), before it is checked
/// against the blob's size. Positions are inclusive, as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=first-last`
    FromTo { first: u64, last: u64 },
    /// `bytes=first-`
    From { first: u64 },
    /// `bytes=-suffix`: the last `suffix` bytes.
    Suffix { suffix: u64 },
}

impl ByteRange {
    /// The byte positions this range selects in a blob of `size` bytes (end
    /// exclusive), or `None` when it selects nothing (416).
    pub fn resolve(self, size: u64) -> Option<Range<u64>> {
        match self {
            ByteRange::FromTo { first, last } if first <= last && first < size => {
                Some(first..last.saturating_add(1).min(size))
            }
            ByteRange::From { first } if first < size => Some(first..size),
            ByteRange::Suffix { suffix } if suffix > 0 && size > 0 => {
                Some(size - suffix.min(size)..size)
            }
            ByteRange::FromTo { .. } | ByteRange::From { .. } | ByteRange::Suffix { .. } => None,
        }
    }
}

/// A blob on its way out.
pub struct BlobRead {
    /// The whole blob's size.
    pub size: u64,
    /// The part being sent when a range was asked for (end exclusive).
    pub range: Option<Range<u64>>,
    pub body: ByteStream,
}

impl Repository {
    /// `HEAD /v2/<name>/blobs/<digest>`: the size of a blob linked here.
    pub async fn stat_blob(&self, digest: &Digest) -> Result<u64> {
        self.meta
            .find_linked_blob(&self.registry, &self.name, digest)
            .await?
            .ok_or_else(|| RegistryError::BlobUnknown {
                digest: digest.clone(),
            })
    }

    /// `GET /v2/<name>/blobs/<digest>`, optionally one byte range of it.
    pub async fn read_blob(&self, digest: &Digest, range: Option<ByteRange>) -> Result<BlobRead> {
        let size = self.stat_blob(digest).await?;
        let range = match range {
            Some(r) => Some(
                r.resolve(size)
                    .ok_or(RegistryError::RangeNotSatisfiable { size })?,
            ),
            None => None,
        };
        let body = self.blobs.get(digest, range.clone()).await?;
        Ok(BlobRead { size, range, body })
    }

    /// `DELETE /v2/<name>/blobs/<digest>`: unlinks the blob from this
    /// repository. The bytes stay until garbage collection finds them
    /// unreferenced everywhere (other repositories may link them).
    pub async fn delete_blob(&self, permit: &Permit, digest: &Digest) -> Result<()> {
        self.require(permit, RepoAction::Delete)?;
        self.check_repository_writable().await?;
        if self
            .meta
            .unlink_blob(&self.registry, &self.name, digest)
            .await?
        {
            Ok(())
        } else {
            Err(RegistryError::BlobUnknown {
                digest: digest.clone(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ByteRange;

    #[test]
    fn ranges_resolve_against_the_size() {
        let cases = [
            (
                ByteRange::FromTo {
                    first: 0,
                    last: 4_194_303,
                },
                10,
                Some(0..10),
            ),
            (ByteRange::FromTo { first: 2, last: 5 }, 10, Some(2..6)),
            (ByteRange::FromTo { first: 9, last: 9 }, 10, Some(9..10)),
            (
                ByteRange::FromTo {
                    first: 10,
                    last: 12,
                },
                10,
                None,
            ),
            (ByteRange::FromTo { first: 5, last: 2 }, 10, None),
            (ByteRange::From { first: 3 }, 10, Some(3..10)),
            (ByteRange::From { first: 10 }, 10, None),
            (ByteRange::Suffix { suffix: 4 }, 10, Some(6..10)),
            (ByteRange::Suffix { suffix: 40 }, 10, Some(0..10)),
            (ByteRange::Suffix { suffix: 0 }, 10, None),
            (ByteRange::From { first: 0 }, 0, None),
            (
                ByteRange::FromTo {
                    first: 0,
                    last: u64::MAX,
                },
                10,
                Some(0..10),
            ),
        ];
        for (range, size, want) in cases {
            assert_eq!(range.resolve(size), want, "{range:?} of {size}");
        }
    }
}
