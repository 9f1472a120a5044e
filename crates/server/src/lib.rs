//! The HTTP surfaces and the composition root.
//!
//! Requests flow one way: a surface parses the request into a typed route,
//! asks `gate`/`authz` for a permit, calls the domain (`acrylic-registry`,
//! `acrylic-identity`) and maps domain errors to its wire format. Surfaces:
//! - `oci`: OCI Distribution `/v2/…` (route table in `oci/route.rs`);
//! - `acr_v1`: ACR's metadata API `/acr/v1/…` (route table in `acr_v1/route.rs`);
//!   both data-plane surfaces share `dataplane` (request frame, error table,
//!   path grammar, audit);
//! - `token`: the registry token service `/oauth2/token`, `/oauth2/exchange`;
//! - `directory`: the Entra-ID-compatible identity provider `/{tenant}/…`;
//! - `arm`: the ARM-shaped control plane `/subscriptions/…`;
//! - `ops`: `/healthz`, `/readyz`, `/metrics`.

pub mod acr_v1;
pub mod arm;
pub mod audit;
pub mod bootstrap;
pub mod clock;
pub mod config;
pub mod dataplane;
pub mod directory;
pub mod gate;
pub mod oci;
pub mod ops;
pub mod serve;
pub mod state;
pub mod tls;
pub mod token;

pub use config::Config;
pub use serve::run;
pub use state::{AppState, Settings};
