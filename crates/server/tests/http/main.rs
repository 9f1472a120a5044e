//! In-process HTTP tests: each test starts its own `TestServer` on
//! 127.0.0.1:0 with its own data directory (one test binary for the crate,
//! to keep link time down on two cores).

mod acr_v1;
mod arm;
mod directory;
mod exchange;
mod expiry;
mod identities;
mod oci;
mod rbac;
mod repo_tokens;
mod serve;
mod service_principals;
mod support;
mod token;
