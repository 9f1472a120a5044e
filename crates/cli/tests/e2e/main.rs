//! End-to-end tests: a real `acrylic serve` process (this package's binary)
//! and real clients (the acrylic CLI, skopeo, podman, ctr, Python SDKs).

mod acr_login;
mod cli;
mod clients;
mod crash;
mod directory;
mod helper_install;
mod identities;
mod pull_only;
mod push_clients;
mod python;
mod python_sp;
mod repo_tokens;
mod repository;
mod role;
mod serve;
mod service_principals;
mod sp_token_cli;
mod support;
