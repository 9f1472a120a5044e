//! Loading the signing keys at start-up: every key in the MetaStore is
//! opened with the master key and put in the ring; missing ones (one ES256
//! registry key, one RS256 directory key per tenant) are generated, sealed
//! and stored first.
//!
//! Several replicas starting on an empty store may each create a registry
//! key; every key is re-read from the store after creation, so a replica
//! holds at least the keys that existed when it finished starting. Keys a
//! later replica adds, and rotations (`directory::keys::rotate`), are
//! picked up when a token names an unknown `kid`, when no key can sign, and
//! by the janitor's periodic reload. `directory::keys` uses [`store_key`]
//! and [`add_stored`] too, so keys are sealed, stored and opened one way.

use acrylic_identity::{SealError, Sealer};
use acrylic_model::TenantId;
use acrylic_store::{MetaStore, SigningKey, StoreError};
use acrylic_tokens::{KeyMaterial, KeyRing, Purpose, SigningAlgorithm, TokenError};
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing key {kid}: {source}")]
    Seal {
        kid: String,
        #[source]
        source: SealError,
    },
    #[error("signing key {kid}: {source}")]
    Key {
        kid: String,
        #[source]
        source: TokenError,
    },
    #[error("signing key {kid}: unknown algorithm {algorithm:?} or purpose {purpose:?}")]
    Unsupported {
        kid: String,
        algorithm: String,
        purpose: String,
    },
    #[error("generating a signing key: {0}")]
    Generate(#[source] TokenError),
}

/// Loads every stored signing key, creating the missing ones.
pub async fn load_keyring(
    meta: &dyn MetaStore,
    sealer: &Sealer,
    tenants: &[TenantId],
) -> Result<KeyRing, KeyringError> {
    let now = OffsetDateTime::now_utc();
    let registry_keys = meta.list_signing_keys(Purpose::Registry.as_str()).await?;
    if registry_keys.is_empty() {
        let key = acrylic_tokens::generate_es256().map_err(KeyringError::Generate)?;
        store_key(meta, sealer, &key, Purpose::Registry, None, now).await?;
    }
    let directory_keys = meta.list_signing_keys(Purpose::Directory.as_str()).await?;
    for tenant in tenants {
        if !directory_keys
            .iter()
            .any(|k| k.tenant_id.as_ref() == Some(tenant))
        {
            let key = acrylic_tokens::generate_rs256().map_err(KeyringError::Generate)?;
            store_key(meta, sealer, &key, Purpose::Directory, Some(*tenant), now).await?;
        }
    }

    let ring = KeyRing::new();
    for purpose in [Purpose::Registry, Purpose::Directory] {
        for stored in meta.list_signing_keys(purpose.as_str()).await? {
            add_stored(&ring, sealer, &stored)?;
        }
    }
    Ok(ring)
}

/// Seals and stores a key (also used by `directory::keys` for tenants made
/// later and for rotation).
pub(crate) async fn store_key(
    meta: &dyn MetaStore,
    sealer: &Sealer,
    key: &KeyMaterial,
    purpose: Purpose,
    tenant: Option<TenantId>,
    now: OffsetDateTime,
) -> Result<(), KeyringError> {
    let sealed = sealer
        .seal(&key.pkcs8_der)
        .map_err(|source| KeyringError::Seal {
            kid: key.kid.clone(),
            source,
        })?;
    meta.insert_signing_key(&SigningKey {
        kid: key.kid.clone(),
        algorithm: key.algorithm.as_str().into(),
        purpose: purpose.as_str().into(),
        tenant_id: tenant,
        sealed_private_key: sealed,
        created_at: now,
        active_from: now,
        retired_at: None,
    })
    .await?;
    Ok(())
}

/// Opens a stored key and puts it in the ring, retired if it was (also
/// used by `directory::keys` to reload).
pub(crate) fn add_stored(
    ring: &KeyRing,
    sealer: &Sealer,
    stored: &SigningKey,
) -> Result<(), KeyringError> {
    let (Some(algorithm), Some(purpose)) = (
        SigningAlgorithm::parse(&stored.algorithm),
        Purpose::parse(&stored.purpose),
    ) else {
        return Err(KeyringError::Unsupported {
            kid: stored.kid.clone(),
            algorithm: stored.algorithm.clone(),
            purpose: stored.purpose.clone(),
        });
    };
    let pkcs8_der =
        sealer
            .open(&stored.sealed_private_key)
            .map_err(|source| KeyringError::Seal {
                kid: stored.kid.clone(),
                source,
            })?;
    let key = KeyMaterial {
        kid: stored.kid.clone(),
        algorithm,
        pkcs8_der,
    };
    let key_err = |source| KeyringError::Key {
        kid: stored.kid.clone(),
        source,
    };
    ring.add(
        &key,
        purpose,
        stored.tenant_id,
        stored.active_from.unix_timestamp(),
    )
    .map_err(key_err)?;
    if let Some(retired) = stored.retired_at {
        ring.retire(&stored.kid, retired.unix_timestamp());
    }
    Ok(())
}
