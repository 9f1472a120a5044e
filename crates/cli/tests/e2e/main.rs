//! End-to-end tests: a real `acrylic serve` process (this package's binary)
//! and real clients (the acrylic CLI, skopeo, podman, ctr, Python SDKs).

mod acr_login;
mod cli;
mod clients;
mod directory;
mod python;
mod repository;
mod role;
