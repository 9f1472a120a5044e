//! Each tenant's directory signing keys (RS256), kept sealed in the
//! MetaStore and loaded into the shared key ring on demand.
//!
//! `token::load_keyring` loads every key, and makes one per tenant, at
//! start-up; this module covers what happens after: a tenant created later
//! (issue #3) gets its first key when it first needs one (its first
//! sign-in or JWKS fetch). The
//! store is the truth: a replica that sees an unknown `kid` reloads it
//! ([`load`]), so a key made by one replica verifies on every other. Two
//! replicas racing to make a tenant's first key both succeed; both keys
//! are published and either signs.

use acrylic_model::TenantId;
use acrylic_store::SigningKey;
use acrylic_tokens::{KeyMaterial, Purpose, SigningAlgorithm};
use time::OffsetDateTime;

use crate::AppState;

/// Why keys could not be loaded or made (logged; clients get a 500).
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] acrylic_store::StoreError),
    #[error(transparent)]
    Seal(#[from] acrylic_identity::SealError),
    #[error(transparent)]
    Token(#[from] acrylic_tokens::TokenError),
    #[error("key generation task failed: {0}")]
    Task(String),
}

/// Adds every stored directory key to the ring (idempotent: a `kid` is
/// replaced by itself).
pub async fn load(state: &AppState) -> Result<(), KeyError> {
    for k in state
        .meta
        .list_signing_keys(Purpose::Directory.as_str())
        .await?
    {
        add_to_ring(state, &k)?;
    }
    Ok(())
}

/// Makes sure the ring holds a signing key for `tenant`: loads the stored
/// ones, and generates, seals and stores one if there is none.
pub async fn ensure(state: &AppState, tenant: &TenantId) -> Result<(), KeyError> {
    if state.keys.contains(Purpose::Directory, Some(tenant)) {
        return Ok(());
    }
    load(state).await?;
    if state.keys.contains(Purpose::Directory, Some(tenant)) {
        return Ok(());
    }
    // RSA key generation takes tens of milliseconds: off the async workers.
    let key = tokio::task::spawn_blocking(acrylic_tokens::generate_rs256)
        .await
        .map_err(|e| KeyError::Task(e.to_string()))??;
    let now = OffsetDateTime::now_utc();
    let record = SigningKey {
        kid: key.kid.clone(),
        algorithm: key.algorithm.as_str().to_owned(),
        purpose: Purpose::Directory.as_str().to_owned(),
        tenant_id: Some(*tenant),
        sealed_private_key: state.sealer.seal(&key.pkcs8_der)?,
        created_at: now,
        active_from: now,
        retired_at: None,
    };
    state.meta.insert_signing_key(&record).await?;
    state.keys.add(
        &key,
        Purpose::Directory,
        Some(*tenant),
        now.unix_timestamp(),
    )?;
    tracing::info!(%tenant, kid = %key.kid, "created the tenant's directory signing key");
    Ok(())
}

fn add_to_ring(state: &AppState, k: &SigningKey) -> Result<(), KeyError> {
    let Some(algorithm) = SigningAlgorithm::parse(&k.algorithm) else {
        tracing::warn!(kid = %k.kid, algorithm = %k.algorithm, "skipping a directory key of an unknown algorithm");
        return Ok(());
    };
    let material = KeyMaterial {
        kid: k.kid.clone(),
        algorithm,
        pkcs8_der: state.sealer.open(&k.sealed_private_key)?,
    };
    state.keys.add(
        &material,
        Purpose::Directory,
        k.tenant_id,
        k.active_from.unix_timestamp(),
    )?;
    // A retired key still verifies; it just never signs again.
    if let Some(retired) = k.retired_at {
        state.keys.retire(&k.kid, retired.unix_timestamp());
    }
    Ok(())
}
