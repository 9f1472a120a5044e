//! `Microsoft.Resources`: the subscriptions a caller can see and their
//! resource groups — what az reads after login (`GET /subscriptions`,
//! clients.md "azure-cli against a self-hosted cloud") and before
//! `az acr create` (the group's location).

use acrylic_authz::Permit;
use acrylic_model::{ArmScope, ResourceGroupName, SubscriptionId};
use serde_json::{Value, json};

use super::Visible;
use super::error::ArmError;
use super::registries::subscription;
use super::shapes;
use crate::AppState;

/// Subscriptions the caller may read, in ARM's list shape (with `count`).
/// A role assigned only below a subscription (on a resource group or a
/// registry) does not make the subscription readable, so it is not listed
/// (Azure lists it anyway); reads go through `authorize` like everything
/// else, with no implicit grant beside it.
pub async fn list(state: &AppState, visible: &Visible<'_>) -> Result<Value, ArmError> {
    let items: Vec<Value> = state
        .meta
        .list_subscriptions()
        .await?
        .iter()
        .filter(|s| visible.may_see(&ArmScope::subscription(&s.id), &s.tenant_id))
        .map(shapes::subscription)
        .collect();
    let count = items.len();
    Ok(json!({"value": items, "count": {"type": "Total", "value": count}}))
}

pub async fn get(
    state: &AppState,
    sub: &SubscriptionId,
    _permit: Permit,
) -> Result<Value, ArmError> {
    Ok(shapes::subscription(&subscription(state, sub).await?))
}

pub async fn get_resource_group(
    state: &AppState,
    sub: &SubscriptionId,
    rg: &ResourceGroupName,
    _permit: Permit,
) -> Result<Value, ArmError> {
    subscription(state, sub).await?;
    match state.meta.find_resource_group(sub, rg).await? {
        Some(g) => Ok(shapes::resource_group(&g)),
        None => Err(ArmError::ResourceGroupNotFound(rg.clone())),
    }
}
