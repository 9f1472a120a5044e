//! Store tests, one binary to keep link time down on two cores:
//! - `meta`: the `MetaStore` conformance suite, run against SQLite always and
//!   against PostgreSQL when `DATABASE_URL` is set;
//! - `blob`: `FsBlobStore` on a temporary directory.

mod apps;
mod blob;
mod directory;
mod identities;
mod meta;
mod rbac;
mod repo_tokens;
