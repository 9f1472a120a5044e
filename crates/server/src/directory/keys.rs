//! Each tenant's directory signing keys (RS256), kept sealed in the
//! MetaStore and held in the shared key ring; and their rotation.
//!
//! Start-up (`token::load_keyring`) loads every key and makes one per
//! tenant; [`ensure`] covers what happens after — a tenant created later
//! gets its first key when it first needs one — through the same
//! `token::{store_key, add_stored}`, so keys are sealed, stored and opened
//! one way. The store is the truth: a replica that sees an unknown `kid`,
//! or finds no key able to sign, reloads ([`load`]), so a key made by one
//! replica verifies on every other.
//!
//! Rotation ([`rotate`], issue #3: "publish the next key before using it,
//! keep the previous one for verification"):
//! 1. the next key is stored and published in the JWKS at once, with
//!    `active_from` in the future, so clients and other replicas can learn
//!    it before any token is signed with it;
//! 2. the current keys are retired at that same instant: they sign until
//!    then, the next key from then on — there is no instant without a
//!    signing key, so no request fails;
//! 3. retired keys keep verifying the tokens they signed until
//!    [`drop_retired`] removes them (after the longest token lifetime).

use acrylic_model::TenantId;
use acrylic_store::SigningKey;
use acrylic_tokens::Purpose;
use time::OffsetDateTime;

use crate::AppState;
use crate::token::{KeyringError, add_stored, store_key};

/// Why keys could not be loaded or made (logged; clients get a 500).
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] acrylic_store::StoreError),
    #[error(transparent)]
    Seal(#[from] acrylic_identity::SealError),
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    #[error(transparent)]
    Token(#[from] acrylic_tokens::TokenError),
    #[error("key generation task failed: {0}")]
    Task(String),
}

/// What [`rotate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The next key: published now, signing from `active_from`.
    pub kid: String,
    pub active_from: OffsetDateTime,
    /// The keys that sign until `active_from` and verify until dropped.
    pub retired: Vec<String>,
}

/// Adds every stored directory key to the ring (idempotent: a `kid` is
/// replaced by itself).
pub async fn load(state: &AppState) -> Result<(), KeyError> {
    for k in state
        .meta
        .list_signing_keys(Purpose::Directory.as_str())
        .await?
    {
        add_stored(&state.keys, &state.sealer, &k)?;
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
    let key = generate().await?;
    let now = state.clock.now();
    store_key(
        state.meta.as_ref(),
        &state.sealer,
        &key,
        Purpose::Directory,
        Some(*tenant),
        now,
    )
    .await?;
    load(state).await?;
    tracing::info!(%tenant, kid = %key.kid, "created the tenant's directory signing key");
    Ok(())
}

/// Rotates `tenant`'s signing key: the next key is published now and
/// signs from `now + publish_ahead`; the current keys sign until then and
/// keep verifying until [`drop_retired`]. Other replicas learn the next
/// key from the store (on an unknown `kid`, when they cannot sign, or on
/// the janitor's reload), so `publish_ahead` should exceed the time they
/// need — and the time JWKS consumers cache keys.
pub async fn rotate(
    state: &AppState,
    tenant: &TenantId,
    publish_ahead: time::Duration,
) -> Result<Rotation, KeyError> {
    ensure(state, tenant).await?;
    let now = state.clock.now();
    let active_from = now + publish_ahead.max(time::Duration::ZERO);
    let current: Vec<SigningKey> = state
        .meta
        .list_signing_keys(Purpose::Directory.as_str())
        .await?
        .into_iter()
        .filter(|k| k.tenant_id.as_ref() == Some(tenant) && k.retired_at.is_none())
        .collect();

    // 1. Publish the next key (not yet signing).
    let key = generate().await?;
    let record = SigningKey {
        kid: key.kid.clone(),
        algorithm: key.algorithm.as_str().to_owned(),
        purpose: Purpose::Directory.as_str().to_owned(),
        tenant_id: Some(*tenant),
        sealed_private_key: state.sealer.seal(&key.pkcs8_der)?,
        created_at: now,
        active_from,
        retired_at: None,
    };
    state.meta.insert_signing_key(&record).await?;
    add_stored(&state.keys, &state.sealer, &record)?;

    // 2. Hand over at `active_from`: the current keys stop signing exactly
    //    when the next one starts.
    let mut retired = Vec::new();
    for old in current {
        state.meta.retire_signing_key(&old.kid, active_from).await?;
        state.keys.retire(&old.kid, active_from.unix_timestamp());
        retired.push(old.kid);
    }
    tracing::info!(%tenant, kid = %key.kid, %active_from, retired = ?retired, "rotating the tenant's directory signing key");
    Ok(Rotation {
        kid: key.kid,
        active_from,
        retired,
    })
}

/// Drops `tenant`'s keys retired before `retired_before`: tokens they
/// signed stop verifying. Call it once the longest-lived token signed
/// before the retirement has expired (directory access tokens live an
/// hour). Returns the dropped `kid`s.
pub async fn drop_retired(
    state: &AppState,
    tenant: &TenantId,
    retired_before: OffsetDateTime,
) -> Result<Vec<String>, KeyError> {
    let mut dropped = Vec::new();
    for k in state
        .meta
        .list_signing_keys(Purpose::Directory.as_str())
        .await?
    {
        let old = k.retired_at.is_some_and(|r| r < retired_before);
        if k.tenant_id.as_ref() == Some(tenant) && old {
            state.meta.delete_signing_key(&k.kid).await?;
            state.keys.remove(&k.kid);
            dropped.push(k.kid);
        }
    }
    if !dropped.is_empty() {
        tracing::info!(%tenant, dropped = ?dropped, "dropped retired directory signing keys");
    }
    Ok(dropped)
}

/// A fresh RS256 key; RSA generation takes tens of milliseconds, so it
/// runs off the async workers.
async fn generate() -> Result<acrylic_tokens::KeyMaterial, KeyError> {
    Ok(tokio::task::spawn_blocking(acrylic_tokens::generate_rs256)
        .await
        .map_err(|e| KeyError::Task(e.to_string()))??)
}
